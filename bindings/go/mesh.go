package mesh

// #include "mesh.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Mesh is one engine: its configuration, its connection pools and its
// I/O threads. It is safe for concurrent use; create one per process (or
// per configuration) and share it, as with an http.Transport.
type Mesh struct {
	// mu is read-held by every call that uses the engine and write-held
	// by Close while it frees the engine, so the engine is never freed
	// under a running call. closed is checked under the read lock, so no
	// call starts on a freed engine.
	mu     sync.RWMutex
	closed atomic.Bool
	engine *C.mesh_engine
	// cleanup frees the engine if the Mesh is garbage collected unclosed;
	// Close stops it, so the engine is freed exactly once.
	cleanup runtime.Cleanup
}

// New starts an engine. It needs exactly one config source: StaticConfig,
// StaticConfigFile or Bootstrap.
func New(opts ...Option) (*Mesh, error) {
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	if s.sources != 1 {
		return nil, newError(KindInvalidArgument, fmt.Sprintf(
			"New needs exactly one config source (StaticConfig, StaticConfigFile or Bootstrap), got %d", s.sources))
	}
	options, err := s.cOptions()
	if err != nil {
		return nil, err
	}
	defer C.mesh_options_free(options)

	var engine *C.mesh_engine
	text, textLen := stringArg(s.text)
	err = call(func(e **C.mesh_error) C.mesh_result {
		switch s.source {
		case sourceStaticText:
			return C.mesh_engine_new_static(options, C.MESH_FORMAT_AUTO, text, textLen, &engine, e)
		case sourceStaticFile:
			return C.mesh_engine_new_static_file(options, C.MESH_FORMAT_AUTO, text, textLen, &engine, e)
		default:
			return C.mesh_engine_new_xds(options, text, textLen, &engine, e)
		}
	})
	if err != nil {
		return nil, err
	}
	m := &Mesh{engine: engine}
	m.cleanup = runtime.AddCleanup(m, freeEngine, engine)
	return m, nil
}

// freeEngine is the cleanup of a Mesh that was never closed. It must not
// refer to the Mesh itself, or the Mesh would never become unreachable.
func freeEngine(engine *C.mesh_engine) {
	C.mesh_engine_free(engine)
}

// Close stops the engine: requests in flight end with ErrClosed, later
// calls fail with ErrClosed. It waits for the calls in flight to return,
// then frees the engine. Closing again does nothing and returns nil.
func (m *Mesh) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	// Close first, without the lock: the engine ends the calls in flight
	// promptly, which is what lets the write lock below be taken soon.
	err := call(func(e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_close(m.engine, e)
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanup.Stop()
	if code := C.mesh_engine_free(m.engine); code != C.MESH_RESULT_OK && err == nil {
		err = &Error{Kind: Kind(code), Message: "mesh_engine_free failed"}
	}
	return err
}

// acquire returns the engine for one call, or ErrClosed. Every successful
// acquire must be paired with a release once the engine is no longer used
// (which also keeps the Mesh, and so the engine, alive until then).
func (m *Mesh) acquire() (*C.mesh_engine, error) {
	m.mu.RLock()
	if m.closed.Load() {
		m.mu.RUnlock()
		return nil, newError(KindClosed, "the Mesh is closed")
	}
	return m.engine, nil
}

func (m *Mesh) release() {
	m.mu.RUnlock()
}

// ConfigDump is the configuration the engine serves, as JSON: every
// resource with its version and state (for xDS: ACKED, NACKED, ...).
func (m *Mesh) ConfigDump() ([]byte, error) {
	return m.admin(func(engine *C.mesh_engine, out **C.mesh_bytes, e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_config_dump(engine, out, e)
	})
}

// Metrics are the engine's metrics in the Prometheus text format.
func (m *Mesh) Metrics() ([]byte, error) {
	return m.admin(func(engine *C.mesh_engine, out **C.mesh_bytes, e **C.mesh_error) C.mesh_result {
		return C.mesh_engine_metrics(engine, out, e)
	})
}

// admin runs an admin call that returns mesh_bytes and copies them out.
func (m *Mesh) admin(f func(*C.mesh_engine, **C.mesh_bytes, **C.mesh_error) C.mesh_result) ([]byte, error) {
	engine, err := m.acquire()
	if err != nil {
		return nil, err
	}
	defer m.release()
	var out *C.mesh_bytes
	if err := call(func(e **C.mesh_error) C.mesh_result { return f(engine, &out, e) }); err != nil {
		return nil, err
	}
	defer C.mesh_bytes_free(out)
	return goBytes(C.mesh_bytes_data(out), C.mesh_bytes_len(out)), nil
}

// ABIVersion is the version of the engine's C ABI. It does nothing else,
// which makes it the measure of one cgo call's cost.
func ABIVersion() uint32 {
	return uint32(C.mesh_abi_version())
}

// Version is the engine's version.
func Version() string {
	return C.GoString(C.mesh_version())
}
