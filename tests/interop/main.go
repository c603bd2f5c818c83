// Command xds-interop is a small but real xDS v3 control plane, built on
// go-control-plane's snapshot cache and ADS server, that the Rust interop
// tests spawn. It serves one fixed Istio proxyless-gRPC shaped configuration
// (API listener -> RDS -> two EDS clusters) to every node, and lets the test
// change the v1/v2 traffic split over stdin.
//
// Stdout carries only the machine-readable protocol (see README.md):
//
//	LISTENING <port>
//	SNAPSHOT <version>
//	ERROR <message>
//
// Everything else is logged to stderr.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

// nodeGroup is the single cache key: every client, whatever its node id,
// gets the same snapshot.
const nodeGroup = "mesh"

// sameForAllNodes is a cache NodeHash that ignores the node entirely.
type sameForAllNodes struct{}

func (sameForAllNodes) ID(*corev3.Node) string { return nodeGroup }

// stdoutMu serializes protocol lines. os.Stdout is unbuffered, so each line
// is written (and visible to the reader) as soon as Fprintf returns.
var stdoutMu sync.Mutex

func emit(format string, args ...any) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func main() {
	port := flag.Int("port", 0, "TCP port to listen on, on 127.0.0.1 (0 picks a free port)")
	v1Addr := flag.String("v1", "", "HOST:PORT of the v1 backend (required)")
	v2Addr := flag.String("v2", "", "HOST:PORT of the v2 backend (required)")
	target := flag.String("target", "order-service:80", "API listener and route configuration name")
	debug := flag.Bool("debug", false, "also log go-control-plane's debug/info messages to stderr")
	flag.Parse()

	log.SetOutput(os.Stderr)
	log.SetPrefix("xds-interop: ")
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	if err := run(*port, *v1Addr, *v2Addr, *target, *debug); err != nil {
		log.Printf("fatal: %v", err)
		os.Exit(1)
	}
}

func run(port int, v1Addr, v2Addr, target string, debug bool) error {
	if v1Addr == "" || v2Addr == "" {
		return fmt.Errorf("-v1 and -v2 are required")
	}
	if target == "" {
		return fmt.Errorf("-target must not be empty")
	}
	v1, err := parseSocketAddress(v1Addr)
	if err != nil {
		return fmt.Errorf("-v1: %w", err)
	}
	v2, err := parseSocketAddress(v2Addr)
	if err != nil {
		return fmt.Errorf("-v2: %w", err)
	}
	cfg := meshConfig{target: target, v1: v1, v2: v2, w1: 80, w2: 20}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// ads=true, as ADS servers built on go-control-plane use it. In this
	// mode a SotW request that names resources is answered only if it names
	// every resource of that type in the snapshot; otherwise the cache stays
	// silent (and logs a warning). See README.md.
	logger := libraryLogger(debug)
	snapshots := cachev3.NewSnapshotCache(true, sameForAllNodes{}, logger)
	cp := &controlPlane{cache: snapshots, cfg: cfg}
	if err := cp.publish(ctx); err != nil {
		return err
	}

	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	grpcServer := grpc.NewServer()
	// The logger option applies to both the SotW and the delta ADS handlers.
	xds := serverv3.NewServer(ctx, snapshots, loggingCallbacks(), sotwv3.WithLogger(logger))
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)

	serveErr := make(chan error, 1)
	go func() { serveErr <- grpcServer.Serve(lis) }()

	emit("LISTENING %d", lis.Addr().(*net.TCPAddr).Port)
	log.Printf("serving ADS on %s, target %q, v1=%s v2=%s", lis.Addr(), target, v1Addr, v2Addr)
	// The initial snapshot was set before any client could connect.
	emit("SNAPSHOT %s", cp.version())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)

	lines := readLines(os.Stdin)
	for running := true; running; {
		select {
		case line, ok := <-lines:
			if !ok {
				log.Printf("stdin closed, stopping")
				running = false
			} else {
				running = cp.command(ctx, line)
			}
		case sig := <-signals:
			log.Printf("got %v, stopping", sig)
			running = false
		case err := <-serveErr:
			return fmt.Errorf("grpc server: %w", err)
		}
	}

	// Cancelling the server context ends open ADS streams, after which a
	// graceful stop finishes promptly; Stop is the fallback.
	cancel()
	stopped := make(chan struct{})
	go func() { grpcServer.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		grpcServer.Stop()
	}
	return nil
}

// readLines delivers stdin line by line and closes the channel at EOF.
func readLines(f *os.File) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			out <- sc.Text()
		}
		if err := sc.Err(); err != nil {
			log.Printf("reading stdin: %v", err)
		}
	}()
	return out
}

// controlPlane owns the current configuration and its version. It is only
// touched from the main loop.
type controlPlane struct {
	cache cachev3.SnapshotCache
	cfg   meshConfig
	ver   int
}

func (cp *controlPlane) version() string { return strconv.Itoa(cp.ver) }

// publish builds, checks and installs the next snapshot version. On error
// the previous snapshot and version stay in place.
func (cp *controlPlane) publish(ctx context.Context) error {
	next := strconv.Itoa(cp.ver + 1)
	snap, err := buildSnapshot(next, cp.cfg)
	if err != nil {
		return err
	}
	if err := cp.cache.SetSnapshot(ctx, nodeGroup, snap); err != nil {
		return err
	}
	cp.ver++
	return nil
}

// command runs one stdin command and reports whether to keep running.
func (cp *controlPlane) command(ctx context.Context, line string) bool {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return true
	}
	switch fields[0] {
	case "quit":
		log.Printf("quit requested")
		return false
	case "weights":
		w1, w2, err := parseWeights(fields[1:])
		if err != nil {
			emit("ERROR %v", err)
			return true
		}
		prev := cp.cfg
		cp.cfg.w1, cp.cfg.w2 = w1, w2
		if err := cp.publish(ctx); err != nil {
			cp.cfg = prev
			emit("ERROR %v", err)
			return true
		}
		log.Printf("weights v1=%d v2=%d at version %s", w1, w2, cp.version())
		emit("SNAPSHOT %s", cp.version())
	default:
		emit("ERROR unknown command %q (want \"weights <w1> <w2>\" or \"quit\")", fields[0])
	}
	return true
}

// parseWeights accepts two non-negative integers that are not both zero.
func parseWeights(args []string) (uint32, uint32, error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("usage: weights <w1> <w2>")
	}
	var w [2]uint32
	for i, a := range args {
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("bad weight %q: want a non-negative integer", a)
		}
		w[i] = uint32(n)
	}
	if w[0] == 0 && w[1] == 0 {
		return 0, 0, fmt.Errorf("weights must not both be zero")
	}
	if uint64(w[0])+uint64(w[1]) > 1<<32-1 {
		return 0, 0, fmt.Errorf("sum of weights overflows uint32")
	}
	return w[0], w[1], nil
}
