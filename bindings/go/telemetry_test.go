package mesh_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesh "example.invalid/mesh/bindings/go"
)

const callerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestMetricsAreServedUnderTheWorkloadAndTheCallersTraceFlowsOn(t *testing.T) {
	// A port for /metrics, free now.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := listener.Addr().String()
	listener.Close()
	seen := make(chan string, 1)
	v2 := func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Traceparent")
		io.WriteString(w, "v2")
	}
	logPath := filepath.Join(t.TempDir(), "access.log")
	s := startOrderService(t, nil, nil, v2,
		mesh.Workload("checkout", "shop"),
		mesh.MetricsAddress(metricsAddr),
		// No collector listens there: spans are dropped, requests never wait.
		mesh.Tracing("http://127.0.0.1:9", 0),
		mesh.AccessLog(logPath, 1),
	)
	req, err := http.NewRequest(http.MethodGet, "http://order-service/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"X-Canary": {"always"}, "Traceparent": {callerTraceparent}}
	resp, err := s.client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v, %v", resp, err)
	}
	resp.Body.Close()
	sent := strings.Split(<-seen, "-")
	caller := strings.Split(callerTraceparent, "-")
	if len(sent) != 4 || sent[1] != caller[1] || sent[2] == caller[2] || sent[3] != "01" {
		t.Fatalf("the backend saw traceparent %q: want the caller's trace under a span of the engine's", sent)
	}
	// The engine's request span comes back: the caller's trace continues
	// from it (the backend's parent, the attempt, is its child).
	returned := strings.Split(mesh.Traceparent(resp), "-")
	if len(returned) != 4 || returned[1] != caller[1] || returned[2] == caller[2] || returned[2] == sent[2] {
		t.Fatalf("Traceparent(resp) = %q", mesh.Traceparent(resp))
	}

	scrape, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(scrape.Body)
	scrape.Body.Close()
	if !strings.Contains(string(text), `source_workload="checkout"`) ||
		!strings.Contains(string(text), `destination_version="v2"`) {
		t.Fatalf("metrics without the workload's requests:\n%s", text)
	}

	var entry map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if data, err := os.ReadFile(logPath); err == nil && len(data) > 0 {
			if err := json.Unmarshal([]byte(strings.SplitN(string(data), "\n", 2)[0]), &entry); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if entry["response_code"] != float64(200) || entry["trace_id"] != caller[1] {
		t.Fatalf("access log entry %v", entry)
	}
}

func TestTelemetryOptionsAreChecked(t *testing.T) {
	for _, option := range []mesh.Option{
		mesh.MetricsAddress("not an address"),
		mesh.Tracing("http://127.0.0.1:4317", 2),
		mesh.AccessLog("/tmp/mesh.log", -1),
	} {
		_, err := mesh.New(mesh.StaticConfig(orderServiceConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")), option)
		if !errors.Is(err, mesh.ErrInvalidArgument) {
			t.Errorf("got %v, want ErrInvalidArgument", err)
		}
	}
}
