package mesh_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRoundTripSplitsTrafficByWeight(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	const requests = 1000
	served := map[string]int{}
	for i := range requests {
		status, body := get(t, s.client, "http://order-service/orders/"+strconv.Itoa(i), nil)
		if status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, status)
		}
		served[body]++
	}
	v2Share := float64(served["v2"]) / requests
	if v2Share < 0.14 || v2Share > 0.26 {
		t.Errorf("v2 served %.3f of the requests, want 0.20 ± 0.06 (served: %v)", v2Share, served)
	}
	if served["v1-a"] == 0 || served["v1-b"] == 0 {
		t.Errorf("v1 traffic did not reach both v1 endpoints: %v", served)
	}
	if sum := served["v1-a"] + served["v1-b"] + served["v2"]; sum != requests {
		t.Errorf("%d responses came from no known backend: %v", requests-sum, served)
	}
}

func TestRoundTripCanaryHeaderAlwaysLandsOnV2(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	for i := range 100 {
		status, body := get(t, s.client, "http://order-service/orders/"+strconv.Itoa(i), canary)
		if status != http.StatusOK || body != "v2" {
			t.Fatalf("canary request %d: status %d from %q, want 200 from v2", i, status, body)
		}
	}
}

// failingThreeInTen answers 503 to 3 of every 10 requests it receives, in
// a fixed pattern that never fails twice in a row, and 200 with name to
// the rest. failed counts the 503s.
func failingThreeInTen(name string) (handler http.HandlerFunc, failed *atomic.Int64) {
	var received atomic.Int64
	failed = new(atomic.Int64)
	return func(w http.ResponseWriter, _ *http.Request) {
		switch received.Add(1) % 10 {
		case 1, 4, 7:
			failed.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			io.WriteString(w, name)
		}
	}, failed
}

func TestRoundTripRetriesMaskFailingBackend(t *testing.T) {
	// v2 is the only endpoint of its subset, so its retries come back to
	// it; v1-a's retries may go to v1-b.
	v1a, v1aFailed := failingThreeInTen("v1-a")
	v2, v2Failed := failingThreeInTen("v2")
	s := startOrderService(t, v1a, nil, v2)
	for i := range 300 {
		header := http.Header(nil)
		if i%3 == 0 {
			header = canary
		}
		if status, body := get(t, s.client, "http://order-service/orders/"+strconv.Itoa(i), header); status != http.StatusOK {
			t.Fatalf("request %d: status %d (%q); the retries should have masked the 503s", i, status, body)
		}
	}
	if v1aFailed.Load() == 0 || v2Failed.Load() == 0 {
		t.Errorf("the backends failed %d (v1-a) and %d (v2) requests: the test did not exercise retries",
			v1aFailed.Load(), v2Failed.Load())
	}
}

// TestRoundTripConvertsRequestAndResponse checks each part crosses the
// binding: method, path and query, multi-valued headers, body, Host
// override; status, headers and body back.
func TestRoundTripConvertsRequestAndResponse(t *testing.T) {
	type echo struct {
		Method string
		URI    string
		Host   string
		Values []string
		Body   string
	}
	echoing := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Reply", "one")
		w.Header().Add("X-Reply", "two")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(echo{r.Method, r.RequestURI, r.Host, r.Header.Values("X-Multi"), string(body)})
	}
	s := startOrderService(t, echoing, echoing, echoing)

	req, err := http.NewRequest(http.MethodPost, "http://order-service/orders/7?expand=items", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got echo
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := echo{"POST", "/orders/7?expand=items", "order-service", []string{"a", "b"}, "payload"}
	if got.Method != want.Method || got.URI != want.URI || got.Host != want.Host ||
		strings.Join(got.Values, ",") != "a,b" || got.Body != want.Body {
		t.Errorf("the backend saw %+v, want %+v", got, want)
	}
	if resp.StatusCode != http.StatusCreated || resp.Status != "201 Created" || resp.Proto != "HTTP/1.1" {
		t.Errorf("status %d %q %s, want 201 \"201 Created\" HTTP/1.1", resp.StatusCode, resp.Status, resp.Proto)
	}
	if v := resp.Header.Values("X-Reply"); strings.Join(v, ",") != "one,two" {
		t.Errorf("X-Reply = %q, want [one two]", v)
	}
	if resp.Request != req {
		t.Error("resp.Request is not the request sent")
	}

	// A Host override travels as the Host header.
	req, _ = http.NewRequest(http.MethodGet, "http://order-service/", nil)
	req.Host = "orders.example"
	resp, err = s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("ContentLength %d, body %d bytes", resp.ContentLength, len(body))
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Host != "orders.example" {
		t.Errorf("with req.Host set the backend saw Host %q, want orders.example", got.Host)
	}
}

// Headers net/http takes from the request's fields are taken from them
// here too: a stale Content-Length in Header does not truncate the body,
// and a URL's user info becomes Authorization, not part of the authority.
func TestRoundTripFollowsNetHTTPRequestFields(t *testing.T) {
	type seen struct{ Body, Authorization string }
	echoing := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(seen{string(body), r.Header.Get("Authorization")})
	}
	s := startOrderService(t, echoing, echoing, echoing)

	req, _ := http.NewRequest(http.MethodPost, "http://order-service/orders", strings.NewReader("abc"))
	req.Header["Content-Length"] = []string{"1"}
	req.Header["transfer-encoding"] = []string{"chunked"}
	var got seen
	if err := getJSON(s.client, req, &got); err != nil || got.Body != "abc" {
		t.Errorf("with a stale Content-Length header the backend saw %+v (%v), want the body abc", got, err)
	}

	req, _ = http.NewRequest(http.MethodGet, "http://alice:secret@order-service/orders", nil)
	if err := getJSON(s.client, req, &got); err != nil || !strings.HasPrefix(got.Authorization, "Basic ") {
		t.Errorf("with user info in the URL the backend saw %+v (%v), want basic authorization", got, err)
	}
}

func getJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestRoundTripClosesRequestBody checks the RoundTripper contract: the
// body is closed, on success and on failure.
func TestRoundTripClosesRequestBody(t *testing.T) {
	s := startOrderService(t, nil, nil, nil)
	for _, url := range []string{"http://order-service/", "http://unknown-service/"} {
		body := &closeRecorder{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest(http.MethodPost, url, body)
		if resp, err := s.mesh.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		if !body.closed {
			t.Errorf("%s: the request body was not closed", url)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}
