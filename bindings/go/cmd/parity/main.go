// Command parity sends the order-service scenario through the Go binding
// and writes where the requests went, as JSON, for comparison with the
// same run through the other languages' bindings:
//
//	go run ./cmd/parity -config order-service.yaml -out go.json [-requests 2000] [-concurrency 8]
//
// Request i is GET http://order-service/orders/<i>, with x-canary: always
// when i%10 == 0. The backends answer with their name (v1-a, v1-b, v2) as
// the body. Failed requests are counted under their mesh kind
// ("timeout", "no_route", ...) and responses other than 200 under their
// status ("503"), as the Rust runner counts them; the exit status is non-zero only when the run could
// not happen at all (bad flags, a config the engine refuses, no output).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"

	mesh "example.invalid/mesh/bindings/go"
)

// report is the JSON every language's runner writes.
type report struct {
	Language string         `json:"language"`
	Requests int            `json:"requests"`
	OK       int            `json:"ok"`
	Errors   map[string]int `json:"errors"`
	Backends map[string]int `json:"backends"`
	Canary   canary         `json:"canary"`
}

type canary struct {
	Sent int `json:"sent"`
	OnV2 int `json:"on_v2"`
}

// result is what one request came back with.
type result struct {
	canary  bool
	backend string // the body of a 200
	failure string // the error kind or the status; empty for a 200
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("parity: ")
	configPath := flag.String("config", "", "static mesh config file (Istio YAML or Envoy v3)")
	outPath := flag.String("out", "", "where to write the JSON report")
	requests := flag.Int("requests", 2000, "number of requests")
	concurrency := flag.Int("concurrency", 8, "requests in flight at once")
	flag.Parse()
	if *configPath == "" || *outPath == "" || *requests < 0 || *concurrency < 1 {
		flag.Usage()
		os.Exit(2)
	}

	m, err := mesh.New(mesh.StaticConfigFile(*configPath))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	r := run(&http.Client{Transport: m}, *requests, *concurrency)
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*outPath, append(out, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// run sends the requests from `concurrency` workers and tallies them.
func run(client *http.Client, requests, concurrency int) report {
	indexes := make(chan int)
	results := make(chan result)
	var workers sync.WaitGroup
	for range concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range indexes {
				results <- send(client, i)
			}
		}()
	}
	go func() {
		for i := range requests {
			indexes <- i
		}
		close(indexes)
		workers.Wait()
		close(results)
	}()

	r := report{
		Language: "go",
		Requests: requests,
		Errors:   map[string]int{},
		Backends: map[string]int{"v1-a": 0, "v1-b": 0, "v2": 0},
	}
	for res := range results {
		if res.canary {
			r.Canary.Sent++
		}
		if res.failure != "" {
			r.Errors[res.failure]++
			continue
		}
		r.OK++
		r.Backends[res.backend]++
		if res.canary && res.backend == "v2" {
			r.Canary.OnV2++
		}
	}
	return r
}

// send sends request i and says where it went.
func send(client *http.Client, i int) result {
	res := result{canary: i%10 == 0}
	req, _ := http.NewRequest(http.MethodGet, "http://order-service/orders/"+strconv.Itoa(i), nil) // a valid URL: no error
	if res.canary {
		req.Header.Set("x-canary", "always")
	}
	resp, err := client.Do(req)
	if err != nil {
		res.failure = kindOf(err)
		return res
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		res.failure = kindOf(err)
	case resp.StatusCode != http.StatusOK:
		res.failure = strconv.Itoa(resp.StatusCode)
	default:
		res.backend = string(body)
	}
	return res
}

// kindOf is the engine's name for the failure, shared by every language;
// "other" (logged) for a failure outside the engine.
func kindOf(err error) string {
	var meshErr *mesh.Error
	if errors.As(err, &meshErr) {
		return meshErr.Kind.String()
	}
	log.Printf("a request failed outside the engine: %v", err)
	return "other"
}
