package mesh_test

import (
	"bytes"
	"errors"
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

// An xDS engine subscribes to its targets; with ReadyTimeout(0) New does
// not wait for the (here unreachable, loopback) control plane.
func TestXDSOptionsReachTheEngine(t *testing.T) {
	const bootstrap = `{"xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}],
		"node": {"id": "go-binding-test"}}`
	m := newMesh(t, mesh.Bootstrap(bootstrap), mesh.Targets("order-service:80"), mesh.ReadyTimeout(0))
	dump, err := m.ConfigDump()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte(`"name":"order-service:80"`)) {
		t.Errorf("the config dump does not list the target order-service:80:\n%s", dump)
	}
	if _, err := m.RoundTrip(mustRequest(t, "http://order-service/")); !errors.Is(err, mesh.ErrNoRoute) {
		t.Errorf("before any configuration: err = %v, want ErrNoRoute", err)
	}

	if _, err := mesh.New(mesh.Bootstrap(bootstrap), mesh.ReadyTimeout(0)); !errors.Is(err, mesh.ErrInvalidArgument) {
		t.Errorf("no target: err = %v, want ErrInvalidArgument", err)
	}
	t.Setenv("GRPC_XDS_BOOTSTRAP", "")
	t.Setenv("GRPC_XDS_BOOTSTRAP_CONFIG", "")
	if _, err := mesh.New(mesh.Bootstrap(""), mesh.Targets("order-service:80")); !errors.Is(err, mesh.ErrConfigInvalid) {
		t.Errorf("no bootstrap anywhere: err = %v, want ErrConfigInvalid", err)
	}
	t.Setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap)
	newMesh(t, mesh.Bootstrap(""), mesh.Targets("order-service:80"), mesh.ReadyTimeout(0))
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
