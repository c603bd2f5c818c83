package mesh_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	mesh "example.invalid/mesh/bindings/go"
)

// The order-service canary: requests with x-canary: always go to v2, the
// rest split 80/20 between v1 (two endpoints) and v2, with retries.
func Example() {
	// Three loopback backends, each answering with its name.
	ports := map[string]string{}
	for _, name := range []string{"v1-a", "v1-b", "v2"} {
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		}))
		defer backend.Close()
		ports[name] = backend.URL[strings.LastIndex(backend.URL, ":")+1:]
	}

	m, err := mesh.New(mesh.StaticConfig(`
apiVersion: networking.istio.io/v1beta1
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
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: order-service-endpoints, namespace: default}
spec:
  hosts: [order-service]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: ` + ports["v1-a"] + `}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: ` + ports["v1-b"] + `}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: ` + ports["v2"] + `}, labels: {version: v2}}
`))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	client := &http.Client{Transport: m}

	req, _ := http.NewRequest(http.MethodGet, "http://order-service/orders/1", nil)
	req.Header.Set("x-canary", "always")
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("canary request: %s from %s\n", resp.Status, body)

	succeeded := 0
	for i := range 100 {
		resp, err := client.Get(fmt.Sprintf("http://order-service/orders/%d", i))
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			succeeded++
		}
	}
	fmt.Printf("%d of 100 requests succeeded\n", succeeded)

	_, err = client.Get("http://inventory/items")
	fmt.Println("unknown service:", errors.Is(err, mesh.ErrNoRoute))
	// Output:
	// canary request: 200 OK from v2
	// 100 of 100 requests succeeded
	// unknown service: true
}
