package mesh_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	mesh "example.invalid/mesh/bindings/go"
)

// send does what a host does with a Decision: waits its delay, then sends
// the request to its endpoint with its authority, headers and timeout.
func send(t testing.TB, d *mesh.Decision, path string) (*http.Response, error) {
	t.Helper()
	time.Sleep(d.Delay) // the engine's backoff, part of the protocol
	ctx := context.Background()
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Endpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = d.Authority
	for name, values := range d.Headers {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		// The body is read within the attempt's timeout, then the
		// response is reported with its status and headers.
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// resolveTo resolves until the engine picks endpoint (the pick is the
// engine's; the test only needs a known starting point), abandoning the
// other decisions.
func resolveTo(t *testing.T, m *mesh.Mesh, url, endpoint string) *mesh.Decision {
	t.Helper()
	for range 200 {
		d, err := m.Resolve(mustRequest(t, url))
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if d.Endpoint == endpoint {
			return d
		}
		d.Close()
	}
	t.Fatalf("200 decisions never picked %s", endpoint)
	return nil
}

func TestDecisionModeSuccess(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	req := mustRequest(t, "http://order-service/orders/1")
	req.Header.Set("X-Canary", "always")
	d, err := s.mesh.Resolve(req)
	if err != nil {
		t.Fatal(err)
	}
	if d.Endpoint != s.v2.addr() || d.Attempt != 1 || d.MaxAttempts != 4 || d.Cluster == "" || d.Authority == "" {
		t.Errorf("decision %+v, want the first of 4 attempts on v2 (%s)", d, s.v2.addr())
	}
	resp, err := send(t, d, "/orders/1")
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.mesh.Report(d, resp, nil)
	if err != nil || next != nil {
		t.Errorf("Report of a 200: %+v, %v; want nil, nil", next, err)
	}
}

func TestDecisionModeRetriesAnotherEndpointAfter503(t *testing.T) {
	failing := startBackend(t, "failing", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	healthy := startBackend(t, "healthy", nil)
	m := newMesh(t, mesh.StaticConfig(singleRouteConfig("retry-service",
		[]string{"retries: {attempts: 3, retryOn: 5xx}"}, failing.addr(), healthy.addr())))

	d := resolveTo(t, m, "http://retry-service/", failing.addr())
	resp, err := send(t, d, "/")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the failing backend answered %v, %v", resp, err)
	}
	next, err := m.Report(d, resp, nil)
	if err != nil || next == nil {
		t.Fatalf("Report of a 503: %+v, %v; want a next attempt", next, err)
	}
	if next.Attempt != 2 || next.Endpoint != healthy.addr() {
		t.Errorf("next attempt %d on %s, want attempt 2 on %s", next.Attempt, next.Endpoint, healthy.addr())
	}
	resp, err = send(t, next, "/")
	if err != nil {
		t.Fatal(err)
	}
	if last, err := m.Report(next, resp, nil); err != nil || last != nil {
		t.Errorf("Report of a 200: %+v, %v; want nil, nil", last, err)
	}
}

func TestDecisionModeRetriesAfterConnectFailure(t *testing.T) {
	healthy := startBackend(t, "healthy", nil)
	dead := closedPort(t)
	m := newMesh(t, mesh.StaticConfig(singleRouteConfig("retry-service",
		[]string{"retries: {attempts: 3, retryOn: connect-failure}"}, dead.String(), healthy.addr())))

	d := resolveTo(t, m, "http://retry-service/", dead.String())
	_, sendErr := send(t, d, "/")
	var opErr *net.OpError
	if !errors.As(sendErr, &opErr) || opErr.Op != "dial" {
		t.Fatalf("sending to a closed port: %v, want a dial error", sendErr)
	}
	next, err := m.Report(d, nil, sendErr)
	if err != nil || next == nil {
		t.Fatalf("Report of a connect failure: %+v, %v; want a next attempt", next, err)
	}
	if next.Attempt != 2 || next.Endpoint != healthy.addr() {
		t.Errorf("next attempt %d on %s, want attempt 2 on %s", next.Attempt, next.Endpoint, healthy.addr())
	}
	next.Close()
}

func TestPolicySetsRetries(t *testing.T) {
	b := startBackend(t, "b", nil)
	const policy = `{"service_timeout_ms": 800, "max_retries": 1, "backoff_strategy": "constant", "jitter_enabled": false}`
	m := newMesh(t,
		mesh.StaticConfig(singleRouteConfig("policy-service", []string{"retries: {attempts: 3}"}, b.addr())),
		mesh.Policy(policy, "policy-service"))
	d, err := m.Resolve(mustRequest(t, "http://policy-service/"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.MaxAttempts != 2 {
		t.Errorf("MaxAttempts = %d, want 2 (1 + the policy's max_retries, over the route's 3)", d.MaxAttempts)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	return addr
}
