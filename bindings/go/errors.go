package mesh

// #include "mesh.h"
import "C"

import "strings"

// Kind is the engine's result code (mesh_result): what went wrong, stable
// across languages, so a Go service and a Python one report the same kind
// for the same failure.
type Kind int

// The kinds, one per mesh_result code, with the values of the C ABI.
const (
	KindOK                Kind = C.MESH_RESULT_OK
	KindNoRoute           Kind = C.MESH_RESULT_NO_ROUTE            // no route for the request's host, path or headers
	KindNoHealthyEndpoint Kind = C.MESH_RESULT_NO_HEALTHY_ENDPOINT // the route's cluster or subset has no endpoint to send to
	KindConfigInvalid     Kind = C.MESH_RESULT_CONFIG_INVALID      // the configuration was refused; the message names the resource and field
	KindInvalidRequest    Kind = C.MESH_RESULT_INVALID_REQUEST     // bad method, URL or header (CR/LF, invalid name, URL not UTF-8)
	KindTimeout           Kind = C.MESH_RESULT_TIMEOUT             // the route's, the attempt's or the caller's timeout passed
	KindOverloaded        Kind = C.MESH_RESULT_OVERLOADED          // a circuit breaker or connection-pool limit refused the request
	KindRateLimited       Kind = C.MESH_RESULT_RATE_LIMITED        // a local rate limit refused the request
	KindTransport         Kind = C.MESH_RESULT_TRANSPORT           // connecting or talking to the endpoint failed, retries exhausted
	KindClosed            Kind = C.MESH_RESULT_CLOSED              // the Mesh is closed
	KindInternal          Kind = C.MESH_RESULT_INTERNAL            // a bug in the engine (a panic stopped at the boundary)
	KindCancelled         Kind = C.MESH_RESULT_CANCELLED           // the caller cancelled the request (its context ended)
	KindBodyTooLarge      Kind = C.MESH_RESULT_BODY_TOO_LARGE      // the request or response body is over MaxBodyBytes
	KindInvalidArgument   Kind = C.MESH_RESULT_INVALID_ARGUMENT    // a bad argument to the binding itself (option value, misused handle)
)

// String is the engine's name for the kind ("no_route", "timeout", ...), the
// same in every language, so logs and metrics agree.
func (k Kind) String() string {
	return C.GoString(C.mesh_result_name(C.mesh_result(k)))
}

// Error is a failure reported by the engine (or, for misuse of the binding
// such as a second config source, by the binding in the engine's terms).
type Error struct {
	Kind    Kind
	Message string // the engine's explanation; may be empty
}

// Error is "mesh: <kind>: <message>". The engine's messages already start
// with the kind's name, so it is not repeated then.
func (e *Error) Error() string {
	kind := e.Kind.String()
	switch {
	case e.Message == "":
		return "mesh: " + kind
	case strings.HasPrefix(e.Message, kind+":"):
		return "mesh: " + e.Message
	default:
		return "mesh: " + kind + ": " + e.Message
	}
}

// Is makes errors.Is(err, ErrTimeout) true for every timeout, whatever its
// message: errors of the same Kind are the same failure.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// Sentinels for errors.Is, one per failure kind.
var (
	ErrNoRoute           error = &Error{Kind: KindNoRoute}
	ErrNoHealthyEndpoint error = &Error{Kind: KindNoHealthyEndpoint}
	ErrConfigInvalid     error = &Error{Kind: KindConfigInvalid}
	ErrInvalidRequest    error = &Error{Kind: KindInvalidRequest}
	ErrTimeout           error = &Error{Kind: KindTimeout}
	ErrOverloaded        error = &Error{Kind: KindOverloaded}
	ErrRateLimited       error = &Error{Kind: KindRateLimited}
	ErrTransport         error = &Error{Kind: KindTransport}
	ErrClosed            error = &Error{Kind: KindClosed}
	ErrInternal          error = &Error{Kind: KindInternal}
	ErrCancelled         error = &Error{Kind: KindCancelled}
	ErrBodyTooLarge      error = &Error{Kind: KindBodyTooLarge}
	ErrInvalidArgument   error = &Error{Kind: KindInvalidArgument}
)

// newError is an Error raised by the binding itself, for misuse the engine
// never sees (a second config source, a negative duration, ...). Its
// message starts with the kind's name, as the engine's messages do.
func newError(kind Kind, message string) error {
	return &Error{Kind: kind, Message: kind.String() + ": " + message}
}
