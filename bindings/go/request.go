package mesh

// #include "batch.h"
import "C"

import (
	"net/http"
)

// newCRequest converts req into the engine's request: method, absolute
// URL, every header value and the Host override, plus the body and the
// timeout in milliseconds (0 = none) when sending. The caller frees it.
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
	url := req.URL.String()

	var headers flatHeaders
	for name, values := range req.Header {
		if name == "Host" {
			continue // as in net/http: a client request's Host is req.Host
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
	urlPtr, urlLen := stringArg(url)
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
