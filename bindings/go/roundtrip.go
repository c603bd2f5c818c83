package mesh

// #include "batch.h"
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// RoundTrip sends req through the engine, which routes it, picks the
// endpoint, retries and times out as configured, and returns the final
// response with its body already read. With it a Mesh is the Transport of
// an http.Client:
//
//	client := &http.Client{Transport: m}
//
// req.URL must be absolute; its host names the service. The request body
// is read fully before sending. The context's deadline becomes the
// request's timeout (failing with ErrTimeout) and its cancellation cancels
// the request (ErrCancelled); either way the error also matches ctx.Err().
func (m *Mesh) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close() // a RoundTripper closes the body, even on errors
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, contextEndedError(err)
	}
	// Read the body before taking the engine: a slow upload must not hold
	// up Close, which waits for the calls using the engine.
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	engine, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.release()

	deadline, hasDeadline := ctx.Deadline()
	var timeoutMillis uint64
	if hasDeadline {
		timeoutMillis = max(millisCeil(time.Until(deadline)), 1) // 0 would mean no timeout
	}
	request, err := newCRequest(req, body, timeoutMillis)
	if err != nil {
		return nil, err
	}
	defer C.mesh_request_free(request)

	cancel, stopWatching := watchContext(ctx, hasDeadline)
	var response *C.mesh_response
	err = call(func(e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_execute(engine, request, cancel, &response, e)
	})
	stopWatching()
	if err != nil {
		return nil, withContextError(ctx, err)
	}
	defer C.mesh_response_free(response)
	return goResponse(req, response)
}

// readBody reads the whole request body: the engine takes it as one buffer
// (it may resend it on a retry).
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("mesh: reading the request body: %w", err)
	}
	return body, nil
}

// withContextError adds the context's error to err when the context ended
// the call, so that errors.Is(err, ctx.Err()) holds as with net/http. The
// engine enforces the deadline itself and may report the timeout a moment
// before the context's own timer marks it done, hence the clock check.
func withContextError(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	if deadline, ok := ctx.Deadline(); ok && ctxErr == nil && !time.Now().Before(deadline) {
		ctxErr = context.DeadlineExceeded
	}
	if ctxErr == nil {
		return err
	}
	return fmt.Errorf("%w: %w", err, ctxErr)
}

// contextEndedError is the error of a request whose context ended before
// it was sent, in the same terms as one that ends while in flight.
func contextEndedError(ctxErr error) error {
	kind := KindCancelled
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		kind = KindTimeout
	}
	return fmt.Errorf("%w: %w", newError(kind, "the request's context ended before it was sent"), ctxErr)
}

// goResponse copies the engine's response into an http.Response, so the
// response can be freed as soon as this returns.
func goResponse(req *http.Request, response *C.mesh_response) (*http.Response, error) {
	view := C.gomesh_response_view_of(response)
	header := make(http.Header)
	if n := view.header_count; n > 0 {
		views := make([]C.gomesh_header, n)
		if err := call(func(e **C.mesh_error) C.mesh_result {
			return C.gomesh_response_headers(response, &views[0], n, e)
		}); err != nil {
			return nil, err
		}
		header = goHeaders(views)
	}
	body := &responseBody{Reader: bytes.NewReader(goBytes(view.body, view.body_len))}
	if view.traceparent != nil {
		body.traceparent = string(goBytes(view.traceparent, view.traceparent_len))
	}
	status := int(view.status)
	return &http.Response{
		Status:        statusLine(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          body,
		ContentLength: int64(body.Len()),
		Request:       req,
	}, nil
}

// responseBody is a response's whole body, and the engine's span of the
// request when it was traced (see Traceparent).
type responseBody struct {
	*bytes.Reader
	traceparent string
}

func (*responseBody) Close() error { return nil }

// Traceparent is the engine's span of the request that got resp, as a W3C
// traceparent, when the Mesh traces (see Tracing) and the request was
// sampled: the caller's own spans continue from it. "" otherwise, and ""
// when something between the Mesh and the caller replaced resp.Body (an
// http.Client with a Timeout wraps it: call RoundTrip, or a Client
// without Timeout and a context deadline instead).
func Traceparent(resp *http.Response) string {
	if body, ok := resp.Body.(*responseBody); ok {
		return body.traceparent
	}
	return ""
}

// statusLine is the "200 OK" form of http.Response.Status.
func statusLine(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}
