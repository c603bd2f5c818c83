// Package mesh is the Go binding of the embeddable service-mesh engine: the
// Rust engine linked into the process routes, balances, retries and times
// out outbound HTTP requests the way a sidecar proxy would, without the
// extra hop.
//
// The binding is deliberately thin. Every decision (which route, which
// endpoint, whether to retry, how long to wait) is the engine's; Go only
// converts requests, responses and errors across the C ABI declared in
// bindings/c/include/mesh.h. That keeps the behaviour identical in every
// language that binds the same engine.
//
// Two ways to use it:
//
//   - As an http.RoundTripper: &http.Client{Transport: m} sends each request
//     through the engine, which connects to the endpoints itself.
//   - In decision mode: Resolve says where to send a request, the caller
//     sends it with its own client, and Report tells the engine what
//     happened and returns the next attempt, if any.
//
// Errors are *Error values whose Kind mirrors the engine's result codes, so
// errors.Is(err, mesh.ErrNoRoute) and similar checks work through any
// wrapping (including *url.Error from http.Client).
//
// Building: the package links libmesh with cgo. Point the linker at the
// directory that holds the library, e.g.
//
//	CGO_LDFLAGS=-L/path/to/dir go test ./...
//
// A directory holding only libmesh.a links the engine statically.
package mesh
