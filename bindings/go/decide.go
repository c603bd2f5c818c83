package mesh

// #include "batch.h"
import "C"

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// Decision is the engine's answer in decision mode: where and how to send
// one attempt of a request that the caller sends itself. The caller waits
// Delay, sends the request to Endpoint with Authority as its Host, the
// Headers added and Timeout (0 = none) as the attempt's deadline, then
// passes the result to Mesh.Report, which returns the next attempt or nil.
//
// Every Decision must end in exactly one Report or Close: until then the
// engine counts the attempt as in flight (load balancing, circuit
// breakers and retry budgets depend on it).
type Decision struct {
	Endpoint    string        // "127.0.0.1:8080": the address to connect to
	Authority   string        // the Host (HTTP/1.1) or :authority (HTTP/2) to send
	Cluster     string        // the cluster the endpoint belongs to, for logs and metrics
	Timeout     time.Duration // this attempt's deadline once sent; 0 = none
	Delay       time.Duration // backoff to wait before sending (0 for a first attempt)
	Attempt     int           // 1 for the first attempt
	MaxAttempts int           // 1 + the route's retries
	Headers     http.Header   // to set on the request

	// handle is the engine's decision until Report or Close takes it;
	// taking it under mu is what makes a second Report an error rather
	// than a double free.
	mu      sync.Mutex
	handle  *C.mesh_decision
	cleanup runtime.Cleanup
}

// Resolve routes req (method, URL, headers; the body is not read) and
// returns the first attempt's Decision.
func (m *Mesh) Resolve(req *http.Request) (*Decision, error) {
	engine, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.release()
	request, err := newCRequest(req, nil, 0)
	if err != nil {
		return nil, err
	}
	defer C.mesh_request_free(request)
	var decision *C.mesh_decision
	if err := call(func(e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_resolve(engine, request, &decision, e)
	}); err != nil {
		return nil, err
	}
	return newDecision(decision)
}

// Report tells the engine how the attempt of d ended: resp when a response
// arrived (its status and every header count: Retry-After, grpc-status,
// ...), otherwise sendErr, which is classified as a timeout, a failure to
// connect or a reset. It returns the next attempt's Decision (wait its
// Delay, then send), or nil when the request is done, successfully or not.
// d is used up: reporting it again is an error.
func (m *Mesh) Report(d *Decision, resp *http.Response, sendErr error) (*Decision, error) {
	if d == nil {
		return nil, newError(KindInvalidArgument, "Report: nil Decision")
	}
	if resp == nil && sendErr == nil {
		return nil, newError(KindInvalidArgument, "Report needs the attempt's response or its error")
	}
	engine, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.release()
	outcome, err := newOutcome(resp, sendErr)
	if err != nil {
		return nil, err
	}
	defer C.mesh_outcome_free(outcome)

	handle := d.take()
	if handle == nil {
		return nil, newError(KindInvalidArgument, "the Decision was already reported or closed")
	}
	var next *C.mesh_decision
	if err := call(func(e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_report(engine, handle, outcome, &next, e) // consumes handle
	}); err != nil {
		return nil, err
	}
	if next == nil {
		return nil, nil
	}
	return newDecision(next)
}

// Close abandons an unreported Decision: the engine counts the attempt as
// given up. It does nothing after Report or a previous Close.
func (d *Decision) Close() error {
	if handle := d.take(); handle != nil {
		C.mesh_decision_free(handle)
	}
	return nil
}

// take hands the engine's decision to exactly one caller, Report or Close.
func (d *Decision) take() *C.mesh_decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	handle := d.handle
	if handle != nil {
		d.handle = nil
		d.cleanup.Stop()
	}
	return handle
}

// newDecision copies the engine's decision into a Decision that keeps the
// handle for Report; a Decision dropped without Report or Close is
// abandoned when garbage collected.
func newDecision(handle *C.mesh_decision) (*Decision, error) {
	view := C.gomesh_decision_view_of(handle)
	headers := make(http.Header)
	if n := view.header_count; n > 0 {
		views := make([]C.gomesh_header, n)
		if err := call(func(e **C.mesh_error) C.mesh_result {
			return C.gomesh_decision_headers(handle, &views[0], n, e)
		}); err != nil {
			C.mesh_decision_free(handle)
			return nil, err
		}
		headers = goHeaders(views)
	}
	d := &Decision{
		Endpoint:    goString(view.endpoint, view.endpoint_len),
		Authority:   goString(view.authority, view.authority_len),
		Cluster:     goString(view.cluster, view.cluster_len),
		Timeout:     time.Duration(view.timeout_ms) * time.Millisecond,
		Delay:       time.Duration(view.delay_ms) * time.Millisecond,
		Attempt:     int(view.attempt),
		MaxAttempts: int(view.max_attempts),
		Headers:     headers,
		handle:      handle,
	}
	d.cleanup = runtime.AddCleanup(d, freeDecision, handle)
	return d, nil
}

func freeDecision(handle *C.mesh_decision) {
	C.mesh_decision_free(handle)
}

// newOutcome converts an attempt's result for mesh_engine_report. The
// caller frees it.
func newOutcome(resp *http.Response, sendErr error) (*C.mesh_outcome, error) {
	status, failure := 0, failureNone
	var headers flatHeaders
	if sendErr != nil {
		failure = classifyFailure(sendErr)
	} else {
		status = resp.StatusCode
		for name, values := range resp.Header {
			for _, value := range values {
				headers.add(name, value)
			}
		}
	}
	var outcome *C.mesh_outcome
	data, lens, parts := headers.args()
	err := call(func(e **C.mesh_error) C.mesh_result {
		return C.gomesh_outcome_new(C.uint16_t(status), C.mesh_failure(failure), data, lens, parts, &outcome, e)
	})
	return outcome, err
}

// failure is how an attempt failed without a response (mesh_failure).
type failure int

const (
	failureNone    failure = C.MESH_FAILURE_NONE
	failureConnect failure = C.MESH_FAILURE_CONNECT
	failureReset   failure = C.MESH_FAILURE_RESET
	failureTimeout failure = C.MESH_FAILURE_TIMEOUT
)

// classifyFailure maps a Go send error to the failure the engine's retry
// conditions speak of ("connect-failure", "reset", per-try timeouts).
func classifyFailure(err error) failure {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return failureTimeout
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return failureConnect
	default:
		return failureReset
	}
}
