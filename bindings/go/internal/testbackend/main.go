// Command testbackend is the loopback HTTP backend of the C smoke test
// (scripts/bindings.sh). It listens on 127.0.0.1 on a free port, prints
// "127.0.0.1:<port>" on stdout, and serves:
//
//	/            200, body "ok"
//	/status/503  503
//	/slow        200 after 2 s (sooner if the client goes away)
//
// It exits when its stdin closes, so it cannot outlive the script that
// started it even if the script is killed.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	log.SetPrefix("testbackend: ")
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/status/503", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
			io.WriteString(w, "slow")
		case <-r.Context().Done():
		}
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println(listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}
