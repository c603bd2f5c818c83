package mesh_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesh "example.invalid/mesh/bindings/go"
)

func TestNewRefusesInvalidConfig(t *testing.T) {
	// A route to a subset no DestinationRule defines.
	config := strings.Replace(orderServiceConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"), "subset: v2}}]", "subset: v9}}]", 1)
	_, err := mesh.New(mesh.StaticConfig(config))
	if !errors.Is(err, mesh.ErrConfigInvalid) {
		t.Fatalf("err = %v, want ErrConfigInvalid", err)
	}
	var meshErr *mesh.Error
	if !errors.As(err, &meshErr) || !strings.Contains(meshErr.Message, "v9") {
		t.Errorf("the message %q does not name the unknown subset v9", meshErr.Message)
	}
}

func TestNewNeedsExactlyOneConfigSource(t *testing.T) {
	config := orderServiceConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
	for name, opts := range map[string][]mesh.Option{
		"none": nil,
		"two":  {mesh.StaticConfig(config), mesh.StaticConfigFile("mesh.yaml")},
	} {
		if _, err := mesh.New(opts...); !errors.Is(err, mesh.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestNewFromConfigFile(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(s.configForTest), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newMesh(t, mesh.StaticConfigFile(path))
	if status, body := get(t, &http.Client{Transport: m}, "http://order-service/", canary); status != 200 || body != "v2" {
		t.Errorf("status %d from %q, want 200 from v2", status, body)
	}
	if _, err := mesh.New(mesh.StaticConfigFile(filepath.Join(t.TempDir(), "missing.yaml"))); !errors.Is(err, mesh.ErrConfigInvalid) {
		t.Errorf("a missing file: err = %v, want ErrConfigInvalid", err)
	}
}

func TestNewRefusesBadOptionValues(t *testing.T) {
	config := mesh.StaticConfig(orderServiceConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"))
	for name, opt := range map[string]mesh.Option{
		"negative worker threads": mesh.WorkerThreads(-1),
		"negative max body":       mesh.MaxBodyBytes(-1),
		"zero max body":           mesh.MaxBodyBytes(0),
		"negative ready timeout":  mesh.ReadyTimeout(-time.Second),
	} {
		if _, err := mesh.New(config, opt); !errors.Is(err, mesh.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := mesh.New(config, mesh.Policy(`{"service_timeout_ms": 800}`, "order-service")); !errors.Is(err, mesh.ErrConfigInvalid) {
		t.Errorf("an incomplete policy: err = %v, want ErrConfigInvalid", err)
	}
}

func TestUnknownHostHasNoRoute(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	_, err := s.client.Get("http://unknown-service/orders/1")
	if !errors.Is(err, mesh.ErrNoRoute) {
		t.Errorf("err = %v, want ErrNoRoute", err)
	}
}

// net/http checks headers only in its own Transport, so these reach the
// engine both through an http.Client and through RoundTrip directly.
func TestInvalidHeadersAreInvalidRequests(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	for name, header := range map[string]http.Header{
		"CR LF in a value":  {"X-Injected": {"a\r\nX-Evil: 1"}},
		"LF in a value":     {"X-Injected": {"a\nb"}},
		"NUL in a value":    {"X-Injected": {"a\x00b"}},
		"space in a name":   {"Bad Name": {"v"}},
		"colon in a name":   {"Bad:Name": {"v"}},
		"empty name":        {"": {"v"}},
		"non-ASCII in name": {"X-Caf\xc3\xa9": {"v"}},
	} {
		req := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Scheme: "http", Host: "order-service", Path: "/"},
			Header: header,
		}
		if _, err := s.mesh.RoundTrip(req); !errors.Is(err, mesh.ErrInvalidRequest) {
			t.Errorf("%s: RoundTrip err = %v, want ErrInvalidRequest", name, err)
		}
		req, _ = http.NewRequest(http.MethodGet, "http://order-service/", nil)
		req.Header = header
		if _, err := s.client.Do(req); !errors.Is(err, mesh.ErrInvalidRequest) {
			t.Errorf("%s: Client.Do err = %v, want ErrInvalidRequest", name, err)
		}
	}
}

// url.URL escapes invalid UTF-8 in a path; an opaque URL carries the raw
// bytes to the engine.
func TestInvalidUTF8InURLIsInvalidRequest(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	req := &http.Request{
		Method: http.MethodGet,
		URL:    &url.URL{Scheme: "http", Opaque: "//order-service/orders/\xff\xfe"},
		Header: http.Header{},
	}
	if _, err := s.mesh.RoundTrip(req); !errors.Is(err, mesh.ErrInvalidRequest) {
		t.Errorf("err = %v, want ErrInvalidRequest", err)
	}
}

func TestBodyOverMaxBodyBytes(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	m := newMesh(t, mesh.StaticConfig(s.configForTest), mesh.MaxBodyBytes(16))
	client := &http.Client{Transport: m}

	_, err := client.Post("http://order-service/orders", "text/plain", strings.NewReader(strings.Repeat("x", 17)))
	if !errors.Is(err, mesh.ErrBodyTooLarge) {
		t.Errorf("a 17-byte request body: err = %v, want ErrBodyTooLarge", err)
	}
	resp, err := client.Post("http://order-service/orders", "text/plain", strings.NewReader(strings.Repeat("x", 16)))
	if err != nil {
		t.Fatalf("a 16-byte request body: %v", err)
	}
	resp.Body.Close()

	big := startBackend(t, "big", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(strings.Repeat("y", 17)))
	})
	m = newMesh(t, mesh.StaticConfig(singleRouteConfig("big-service", nil, big.addr())), mesh.MaxBodyBytes(16))
	if _, err := (&http.Client{Transport: m}).Get("http://big-service/"); !errors.Is(err, mesh.ErrBodyTooLarge) {
		t.Errorf("a 17-byte response body: err = %v, want ErrBodyTooLarge", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	m, err := mesh.New(mesh.StaticConfig(s.configForTest))
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Resolve(mustRequest(t, "http://order-service/"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("a second Close: %v, want nil", err)
	}
	if _, err := m.RoundTrip(mustRequest(t, "http://order-service/")); !errors.Is(err, mesh.ErrClosed) {
		t.Errorf("RoundTrip: err = %v, want ErrClosed", err)
	}
	if _, err := m.Resolve(mustRequest(t, "http://order-service/")); !errors.Is(err, mesh.ErrClosed) {
		t.Errorf("Resolve: err = %v, want ErrClosed", err)
	}
	if _, err := m.Report(d, &http.Response{StatusCode: 200}, nil); !errors.Is(err, mesh.ErrClosed) {
		t.Errorf("Report: err = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("closing a Decision of a closed Mesh: %v", err)
	}
	if _, err := m.ConfigDump(); !errors.Is(err, mesh.ErrClosed) {
		t.Errorf("ConfigDump: err = %v, want ErrClosed", err)
	}
	if _, err := m.Metrics(); !errors.Is(err, mesh.ErrClosed) {
		t.Errorf("Metrics: err = %v, want ErrClosed", err)
	}
}

// Close ends the requests in flight instead of freeing the engine under
// them, and they fail with ErrClosed.
func TestCloseWhileRequestsInFlight(t *testing.T) {
	s := startSlowService(t)
	const inFlight = 20
	errs := make(chan error, inFlight)
	for range inFlight {
		go func() {
			_, err := s.client.Get("http://slow-service/")
			errs <- err
		}()
	}
	for range inFlight {
		<-s.arrived
	}
	if err := s.mesh.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	timeout := time.After(5 * time.Second)
	for range inFlight {
		select {
		case err := <-errs:
			if !errors.Is(err, mesh.ErrClosed) {
				t.Errorf("a request in flight at Close: err = %v, want ErrClosed", err)
			}
		case <-timeout:
			t.Fatal("requests in flight at Close did not return within 5s")
		}
	}
}

// Every request ends, successfully or with a mesh error; the context's
// deadline only bounds the test should one hang.
func TestManyConcurrentRequests(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	const goroutines = 1000
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, goroutines)
	for i := range goroutines {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://order-service/orders/"+strconv.Itoa(i), nil)
			resp, err := s.client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			errs <- err
		}()
	}
	succeeded, failed := 0, map[string]int{}
	for range goroutines {
		err := <-errs
		var meshErr *mesh.Error
		switch {
		case err == nil:
			succeeded++
		case errors.Is(err, context.DeadlineExceeded):
			t.Errorf("a request hung until the test's deadline: %v", err)
		case errors.As(err, &meshErr):
			failed[meshErr.Kind.String()]++
		default:
			t.Errorf("a request failed with something else than a mesh error: %v", err)
		}
	}
	t.Logf("%d succeeded, failed cleanly: %v", succeeded, failed)
	if succeeded == 0 {
		t.Error("no request succeeded")
	}
}

func TestReportTwiceIsAnError(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	d, err := s.mesh.Resolve(mustRequest(t, "http://order-service/"))
	if err != nil {
		t.Fatal(err)
	}
	ok := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	if next, err := s.mesh.Report(d, ok, nil); err != nil || next != nil {
		t.Fatalf("the first Report: %v, %v; want nil, nil", next, err)
	}
	if _, err := s.mesh.Report(d, ok, nil); !errors.Is(err, mesh.ErrInvalidArgument) {
		t.Errorf("the second Report: err = %v, want ErrInvalidArgument", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after Report: %v", err)
	}
	if _, err := s.mesh.Report(nil, ok, nil); !errors.Is(err, mesh.ErrInvalidArgument) {
		t.Errorf("Report(nil): err = %v, want ErrInvalidArgument", err)
	}
}

func mustRequest(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
