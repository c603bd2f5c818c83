package mesh

// #include "mesh.h"
import "C"

import (
	"fmt"
	"math"
	"time"
)

// Option configures New. Options only record values; New hands them to the
// engine, which validates them and applies its own defaults to the rest.
type Option func(*settings)

// configSource is where the engine's routing configuration comes from.
type configSource int

const (
	sourceStaticText configSource = iota + 1
	sourceStaticFile
	sourceXDS
)

// settings is what the options recorded.
type settings struct {
	sources int          // how many config sources were given; New wants exactly one
	source  configSource // the last one given
	text    string       // the static config, its file path or the xDS bootstrap JSON

	policy        *policy
	targets       []string
	readyTimeout  *time.Duration
	workerThreads *int
	maxBodyBytes  *int64
	telemetry     telemetry
}

type policy struct{ json, host string }

func (s *settings) setSource(source configSource, text string) {
	s.sources++
	s.source, s.text = source, text
}

// StaticConfig is the routing configuration itself: Istio YAML or Envoy v3
// resources (JSON or YAML), told apart by their keys.
func StaticConfig(text string) Option {
	return func(s *settings) { s.setSource(sourceStaticText, text) }
}

// StaticConfigFile is the path of a file holding the static configuration
// (see StaticConfig); the engine reads it.
func StaticConfigFile(path string) Option {
	return func(s *settings) { s.setSource(sourceStaticFile, path) }
}

// Bootstrap makes the engine follow an xDS control plane, described by
// gRPC's bootstrap JSON. An empty string reads the bootstrap from the
// environment (GRPC_XDS_BOOTSTRAP, a path, or GRPC_XDS_BOOTSTRAP_CONFIG).
func Bootstrap(json string) Option {
	return func(s *settings) { s.setSource(sourceXDS, json) }
}

// Policy applies the cross-language policy JSON (timeout, retries,
// backoff, rate limit, breaker; see the engine's documentation) to every
// route serving host, overriding what the static configuration says.
func Policy(json, host string) Option {
	return func(s *settings) { s.policy = &policy{json: json, host: host} }
}

// Targets are the "host:port" API listeners an xDS engine subscribes to.
func Targets(targets ...string) Option {
	return func(s *settings) { s.targets = append(s.targets, targets...) }
}

// ReadyTimeout is how long New waits for an xDS engine's first
// configuration (engine default 5 s; 0 = do not wait).
func ReadyTimeout(d time.Duration) Option {
	return func(s *settings) { s.readyTimeout = &d }
}

// WorkerThreads is the number of threads of the engine's own runtime,
// which runs the xDS client (0 = the engine's default, 1). Requests run on
// the threads that send them.
func WorkerThreads(n int) Option {
	return func(s *settings) { s.workerThreads = &n }
}

// MaxBodyBytes caps request and response bodies; a larger one fails with
// ErrBodyTooLarge (engine default 16 MiB).
func MaxBodyBytes(n int64) Option {
	return func(s *settings) { s.maxBodyBytes = &n }
}

// cOptions builds the engine's mesh_options. The caller frees them.
func (s *settings) cOptions() (options *C.mesh_options, err error) {
	options = C.mesh_options_new()
	defer func() {
		if err != nil {
			C.mesh_options_free(options)
			options = nil
		}
	}()
	if s.workerThreads != nil {
		n := *s.workerThreads
		if n < 0 || n > math.MaxUint32 {
			return nil, newError(KindInvalidArgument, fmt.Sprintf("WorkerThreads(%d): out of range", n))
		}
		if err := call(func(e **C.mesh_error) C.mesh_result {
			return C.mesh_options_set_worker_threads(options, C.uint32_t(n), e)
		}); err != nil {
			return nil, err
		}
	}
	if s.maxBodyBytes != nil {
		n := *s.maxBodyBytes
		if n < 0 {
			return nil, newError(KindInvalidArgument, fmt.Sprintf("MaxBodyBytes(%d): negative", n))
		}
		if err := call(func(e **C.mesh_error) C.mesh_result {
			return C.mesh_options_set_max_body_bytes(options, C.uint64_t(n), e)
		}); err != nil {
			return nil, err
		}
	}
	if s.readyTimeout != nil {
		d := *s.readyTimeout
		if d < 0 {
			return nil, newError(KindInvalidArgument, fmt.Sprintf("ReadyTimeout(%v): negative", d))
		}
		if err := call(func(e **C.mesh_error) C.mesh_result {
			return C.mesh_options_set_ready_timeout_ms(options, C.uint64_t(millisCeil(d)), e)
		}); err != nil {
			return nil, err
		}
	}
	if p := s.policy; p != nil {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			json, jsonLen := stringArg(p.json)
			host, hostLen := stringArg(p.host)
			return C.mesh_options_set_policy_json(options, json, jsonLen, host, hostLen, e)
		}); err != nil {
			return nil, err
		}
	}
	if err := s.telemetry.apply(options); err != nil {
		return nil, err
	}
	for _, target := range s.targets {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			p, n := stringArg(target)
			return C.mesh_options_add_target(options, p, n, e)
		}); err != nil {
			return nil, err
		}
	}
	return options, nil
}

// millisCeil is d in whole milliseconds, rounded up: the ABI counts
// milliseconds, and rounding down would turn a short positive duration
// into 0, which the ABI reads as "none".
func millisCeil(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond)
}
