package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mesh "example.invalid/mesh/bindings/go"
)

// The tally of a run against three loopback backends: every request
// answered, every canary on v2, the rest split between the three.
func TestRunTalliesWhereRequestsWent(t *testing.T) {
	endpoints := make([]string, 0, 3)
	for _, backend := range []struct{ name, version string }{{"v1-a", "v1"}, {"v1-b", "v1"}, {"v2", "v2"}} {
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, backend.name)
		}))
		defer server.Close()
		port := server.URL[strings.LastIndex(server.URL, ":")+1:]
		endpoints = append(endpoints, fmt.Sprintf(
			"  - {address: 127.0.0.1, ports: {http: %s}, labels: {version: %s}}\n", port, backend.version))
	}
	m, err := mesh.New(mesh.StaticConfig(orderServiceConfig + strings.Join(endpoints, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	r := run(&http.Client{Transport: m}, 200, 4)
	if r.Language != "go" || r.Requests != 200 || r.OK != 200 || len(r.Errors) != 0 {
		t.Errorf("report %+v, want 200 of 200 requests answered, no errors", r)
	}
	if r.Canary != (canary{Sent: 20, OnV2: 20}) {
		t.Errorf("canary %+v, want 20 sent, 20 on v2", r.Canary)
	}
	if sum := r.Backends["v1-a"] + r.Backends["v1-b"] + r.Backends["v2"]; sum != 200 || r.Backends["v1-a"] == 0 {
		t.Errorf("backends %v, want 200 responses from the three", r.Backends)
	}
}

const orderServiceConfig = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: order-service-route, namespace: default}
spec:
  hosts: [order-service]
  http:
  - match: [{headers: {x-canary: {exact: "always"}}}]
    route: [{destination: {host: order-service, subset: v2}}]
  - route:
    - {destination: {host: order-service, subset: v1}, weight: 80}
    - {destination: {host: order-service, subset: v2}, weight: 20}
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
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: order-service-endpoints, namespace: default}
spec:
  hosts: [order-service]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
`
