package mesh

// The directives apply to the whole package. The library directory is not
// named here: it comes from CGO_LDFLAGS=-L<dir>, so the same source links
// a debug or release build, statically (a directory holding only
// libmesh.a) or dynamically.

/*
#cgo CFLAGS: -I${SRCDIR}/../c/include
#cgo LDFLAGS: -lmesh -ldl -lpthread -lm
#include "batch.h"
*/
import "C"

import (
	"bytes"
	"net/http"
	"net/textproto"
	"unsafe"
)

// bytesArg is b as the ABI's (ptr, len) pair, without copying. Passing Go
// memory is allowed because a []byte holds no Go pointers, and the engine
// copies whatever it keeps before the call returns.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0 // the ABI allows NULL only with length 0, and wants nothing else then
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// stringArg is s as the ABI's (ptr, len) pair, without copying (see bytesArg).
func stringArg(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// goString copies borrowed engine memory into a Go string, so the result
// outlives the handle that owns the memory.
func goString(p *C.uint8_t, n C.size_t) string {
	if n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// goBytes copies borrowed engine memory into a new slice (see goString).
// Unlike C.GoBytes it takes any length, as bodies may exceed an int32.
func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return []byte{}
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// resultError turns a result code and its mesh_error into a Go error
// (nil for MESH_RESULT_OK) and frees the mesh_error.
func resultError(code C.mesh_result, cerr *C.mesh_error) error {
	if cerr != nil {
		defer C.mesh_error_free(cerr)
	}
	if code == C.MESH_RESULT_OK {
		return nil
	}
	e := &Error{Kind: Kind(code)}
	if cerr != nil {
		e.Message = C.GoString(C.mesh_error_message(cerr))
	}
	return e
}

// call runs one fallible ABI call with a fresh error slot and converts its
// result, so no mesh_error is ever read or freed twice.
func call(f func(errorOut **C.mesh_error) C.mesh_result) error {
	var cerr *C.mesh_error
	code := f(&cerr)
	return resultError(code, cerr)
}

// flatHeaders is a header list laid out for one cgo call (see batch.h):
// names and values back to back in data, the length of each in lens.
type flatHeaders struct {
	data []byte
	lens []C.size_t
}

// add appends one header.
func (f *flatHeaders) add(name, value string) {
	f.data = append(f.data, name...)
	f.data = append(f.data, value...)
	f.lens = append(f.lens, C.size_t(len(name)), C.size_t(len(value)))
}

// args is the (data, lens, parts) triple the batch helpers take.
func (f *flatHeaders) args() (*C.uint8_t, *C.size_t, C.size_t) {
	data, _ := bytesArg(f.data)
	if len(f.lens) == 0 {
		return data, nil, 0
	}
	return data, (*C.size_t)(unsafe.Pointer(unsafe.SliceData(f.lens))), C.size_t(len(f.lens))
}

// goHeaders copies borrowed engine headers into an http.Header with
// canonical keys, the form Go code looks headers up by.
func goHeaders(views []C.gomesh_header) http.Header {
	h := make(http.Header, len(views))
	for _, v := range views {
		// Copy the name before canonicalising: CanonicalMIMEHeaderKey
		// returns its argument itself when it is already canonical.
		name := textproto.CanonicalMIMEHeaderKey(goString(v.name, v.name_len))
		h[name] = append(h[name], goString(v.value, v.value_len))
	}
	return h
}
