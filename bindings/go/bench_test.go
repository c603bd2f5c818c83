package mesh_test

// Benchmarks of the binding's overhead: one no-op cgo call, a small GET
// through the mesh, and the same GET with net/http alone, each run
// sequentially and from GOMAXPROCS goroutines in parallel.
//
//	go test -run '^$' -bench . -benchtime 2s -count 5
//
// MESH_BENCH_BACKEND=host:port benchmarks against that backend (for
// example one shared with the other languages' benchmarks); otherwise an
// httptest server answering "ok" stands in.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	mesh "example.invalid/mesh/bindings/go"
)

func BenchmarkABIVersion(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			mesh.ABIVersion()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mesh.ABIVersion()
			}
		})
	})
}

func BenchmarkRoundTripMesh(b *testing.B) {
	m := newMesh(b, mesh.StaticConfig(singleRouteConfig("bench-service", nil, benchBackend(b))))
	benchmarkGets(b, &http.Client{Transport: m}, "http://bench-service/")
}

func BenchmarkRoundTripNetHTTP(b *testing.B) {
	// The default transport, with enough idle connections kept for the
	// parallel run to reuse them, as the mesh's pool does; otherwise it
	// would measure connection churn instead of requests.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	b.Cleanup(transport.CloseIdleConnections)
	benchmarkGets(b, &http.Client{Transport: transport}, "http://"+benchBackend(b)+"/")
}

func benchmarkGets(b *testing.B, client *http.Client, url string) {
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if err := benchGet(client, url); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := benchGet(client, url); err != nil {
					b.Error(err) // Fatal may not be called from these goroutines
					return
				}
			}
		})
	})
}

func benchGet(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// benchBackend is the "host:port" of the backend to benchmark against.
func benchBackend(b *testing.B) string {
	if addr := os.Getenv("MESH_BENCH_BACKEND"); addr != "" {
		return addr
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(server.Close)
	return server.Listener.Addr().String()
}
