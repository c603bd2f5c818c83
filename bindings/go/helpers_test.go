package mesh_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	mesh "example.invalid/mesh/bindings/go"
)

// backend is a loopback HTTP server standing in for one endpoint of a
// service. It counts the requests it receives.
type backend struct {
	name     string
	server   *httptest.Server
	requests atomic.Int64
}

// startBackend starts a backend that serves handler (by default: 200 with
// its name as the body) and stops it when the test ends.
func startBackend(t testing.TB, name string, handler http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }
	}
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		handler(w, r)
	}))
	t.Cleanup(b.server.Close)
	return b
}

// addr is the backend's "127.0.0.1:port".
func (b *backend) addr() string {
	return b.server.Listener.Addr().String()
}

// orderService is the canary scenario: a header route to v2, otherwise
// 80/20 between v1 (two endpoints) and v2, with retries.
type orderService struct {
	mesh          *mesh.Mesh
	v1a, v1b, v2  *backend
	client        *http.Client
	configForTest string
}

// startOrderService starts the three backends (handlers may be nil for
// the default name-echoing one) and a Mesh routing to them.
func startOrderService(t testing.TB, v1a, v1b, v2 http.HandlerFunc, opts ...mesh.Option) *orderService {
	t.Helper()
	s := &orderService{
		v1a: startBackend(t, "v1-a", v1a),
		v1b: startBackend(t, "v1-b", v1b),
		v2:  startBackend(t, "v2", v2),
	}
	s.configForTest = orderServiceConfig(s.v1a.addr(), s.v1b.addr(), s.v2.addr())
	s.mesh = newMesh(t, append([]mesh.Option{mesh.StaticConfig(s.configForTest)}, opts...)...)
	s.client = &http.Client{Transport: s.mesh}
	return s
}

// orderServiceConfig is the Istio YAML of the canary scenario, given the
// "host:port" of each backend.
func orderServiceConfig(v1a, v1b, v2 string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: order-service-route, namespace: default}
spec:
  hosts: [order-service]
  http:
  - match: [{headers: {x-canary: {exact: "always"}}}]
    route: [{destination: {host: order-service, subset: v2}}]
    timeout: 800ms
    retries: {attempts: 3, perTryTimeout: 250ms, retryOn: "5xx,reset,connect-failure"}
  - route:
    - {destination: {host: order-service, subset: v1}, weight: 80}
    - {destination: {host: order-service, subset: v2}, weight: 20}
    timeout: 800ms
    retries: {attempts: 3, perTryTimeout: 250ms, retryOn: "5xx,reset,connect-failure"}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: order-service-subsets, namespace: default}
spec:
  host: order-service
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
%s`, serviceEntry("order-service", map[string]string{v1a: "v1", v1b: "v1", v2: "v2"}))
}

// singleRouteConfig is a service with one route to all its endpoints
// ("host:port" each); route holds the route's extra settings (timeout,
// retries), one per line.
func singleRouteConfig(host string, route []string, endpoints ...string) string {
	var extra strings.Builder
	for _, line := range route {
		extra.WriteString("    " + line + "\n")
	}
	versions := make(map[string]string, len(endpoints))
	for _, e := range endpoints {
		versions[e] = "v1"
	}
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: %[1]s-route, namespace: default}
spec:
  hosts: [%[1]s]
  http:
  - route: [{destination: {host: %[1]s}}]
%[2]s---
%[3]s`, host, extra.String(), serviceEntry(host, versions))
}

// serviceEntry lists the endpoints ("host:port" → version label) of host.
func serviceEntry(host string, endpoints map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: %[1]s-endpoints, namespace: default}
spec:
  hosts: [%[1]s]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
`, host)
	for endpoint, version := range endpoints {
		address, port, _ := net.SplitHostPort(endpoint)
		fmt.Fprintf(&b, "  - {address: %s, ports: {http: %s}, labels: {version: %s}}\n", address, port, version)
	}
	return b.String()
}

// newMesh is mesh.New that fails the test on error and closes the Mesh
// when the test ends.
func newMesh(t testing.TB, opts ...mesh.Option) *mesh.Mesh {
	t.Helper()
	m, err := mesh.New(opts...)
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// get sends a GET through client and returns the status and body.
func get(t testing.TB, client *http.Client, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// canary is the header that routes to v2.
var canary = http.Header{"X-Canary": {"always"}}
