package mesh_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	mesh "example.invalid/mesh/bindings/go"
)

func TestConfigDumpAndMetrics(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	get(t, s.client, "http://order-service/", nil)
	dump, err := s.mesh.ConfigDump()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte("order-service")) {
		t.Errorf("the config dump does not mention order-service:\n%s", dump)
	}
	metrics, err := s.mesh.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(metrics, []byte("# TYPE")) {
		t.Errorf("the metrics are not Prometheus text:\n%s", metrics)
	}
}

// A Mesh dropped without Close is freed by its cleanup: the engine's
// connection to the backend closes.
func TestForgottenMeshIsFreed(t *testing.T) {
	closed := make(chan struct{}, 16)
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	b.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateClosed {
			closed <- struct{}{}
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	func() {
		m, err := mesh.New(mesh.StaticConfig(singleRouteConfig("forgotten", nil, b.Listener.Addr().String())))
		if err != nil {
			t.Fatal(err)
		}
		get(t, &http.Client{Transport: m}, "http://forgotten/", nil) // opens a pooled connection
	}()
	for range 50 {
		runtime.GC()
		select {
		case <-closed:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Error("the connection of a forgotten Mesh was still open after 50 collections")
}
