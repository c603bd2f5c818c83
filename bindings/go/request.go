package mesh

// #include "batch.h"
import "C"

import (
	"net/http"
	"strings"
)

// newCRequest converts req into the engine's request as net/http would put
// it on the wire: method, absolute URL, every header value and the Host
// override, plus the body and the timeout in milliseconds (0 = none) when
// sending. The caller frees it.
//
// Nothing is validated here: the engine refuses bad methods, URLs and
// headers with ErrInvalidRequest, the same way in every language.
func newCRequest(req *http.Request, body []byte, timeoutMillis uint64) (*C.mesh_request, error) {
	if req.URL == nil {
		return nil, newError(KindInvalidRequest, "the request has no URL")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet // net/http's convention for client requests
	}
	url := req.URL
	if url.User != nil {
		// Never sent on the wire by net/http (http.Client turns it into
		// an Authorization header); the engine routes by the authority.
		withoutUser := *url
		withoutUser.User = nil
		url = &withoutUser
	}

	var headers flatHeaders
	for name, values := range req.Header {
		if takenFromFields(name) {
			continue
		}
		for _, value := range values {
			headers.add(name, value)
		}
	}
	if req.Host != "" && req.Host != req.URL.Host {
		headers.add("Host", req.Host)
	}

	var request *C.mesh_request
	methodPtr, methodLen := stringArg(method)
	urlPtr, urlLen := stringArg(url.String())
	headerData, headerLens, headerParts := headers.args()
	bodyPtr, bodyLen := bytesArg(body)
	err := call(func(e **C.mesh_error) C.mesh_result {
		return C.gomesh_request_new(methodPtr, methodLen, urlPtr, urlLen, headerData, headerLens, headerParts,
			bodyPtr, bodyLen, C.uint64_t(timeoutMillis), &request, e)
	})
	if err != nil {
		return nil, err
	}
	return request, nil
}

// takenFromFields reports the headers that net/http takes from the
// request's fields rather than from its Header: Host from req.Host, and
// the body's framing, which the engine derives from the body it is given
// (a stale Content-Length would truncate the body or stall the request).
func takenFromFields(name string) bool {
	return strings.EqualFold(name, "Host") ||
		strings.EqualFold(name, "Content-Length") ||
		strings.EqualFold(name, "Transfer-Encoding")
}
