package mesh

// #include "mesh.h"
import "C"

// Telemetry options: Istio's metrics name the workload; the engine can
// serve them for Prometheus, trace requests over OTLP (a request whose
// header carries the caller's traceparent joins its trace) and write an
// access log. The engine validates every value.

type telemetry struct {
	workload, namespace *string
	metricsAddress      *string
	otlpEndpoint        *string
	traceSampleRatio    float64
	accessLog           *string
	accessLogRatio      float64
}

// Workload names this service in Istio's metrics (source_workload and
// source_workload_namespace).
func Workload(name, namespace string) Option {
	return func(s *settings) { s.telemetry.workload, s.telemetry.namespace = &name, &namespace }
}

// MetricsAddress serves the metrics at /metrics on "ip:port" for
// Prometheus to scrape. Give a fixed port: there is no call to read back
// the one port 0 would pick.
func MetricsAddress(address string) Option {
	return func(s *settings) { s.telemetry.metricsAddress = &address }
}

// Tracing traces requests and exports their spans over OTLP/gRPC to
// otlpEndpoint ("http://host:4317"). A request with a traceparent header
// follows its caller's decision; others are sampled at sampleRatio (0 to
// 1). Spans the collector cannot take are dropped, never waited for.
func Tracing(otlpEndpoint string, sampleRatio float64) Option {
	return func(s *settings) {
		s.telemetry.otlpEndpoint, s.telemetry.traceSampleRatio = &otlpEndpoint, sampleRatio
	}
}

// AccessLog appends one JSON line per request (a share sampleRatio of
// them) to the file at path.
func AccessLog(path string, sampleRatio float64) Option {
	return func(s *settings) { s.telemetry.accessLog, s.telemetry.accessLogRatio = &path, sampleRatio }
}

// apply hands the telemetry options to the engine's options.
func (t *telemetry) apply(options *C.mesh_options) error {
	if t.workload != nil {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			name, nameLen := stringArg(*t.workload)
			ns, nsLen := stringArg(*t.namespace)
			return C.mesh_options_set_workload(options, name, nameLen, ns, nsLen, e)
		}); err != nil {
			return err
		}
	}
	if t.metricsAddress != nil {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			p, n := stringArg(*t.metricsAddress)
			return C.mesh_options_set_metrics_address(options, p, n, e)
		}); err != nil {
			return err
		}
	}
	if t.otlpEndpoint != nil {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			p, n := stringArg(*t.otlpEndpoint)
			return C.mesh_options_set_tracing(options, p, n, C.double(t.traceSampleRatio), e)
		}); err != nil {
			return err
		}
	}
	if t.accessLog != nil {
		if err := call(func(e **C.mesh_error) C.mesh_result {
			p, n := stringArg(*t.accessLog)
			return C.mesh_options_set_access_log(options, p, n, C.double(t.accessLogRatio), e)
		}); err != nil {
			return err
		}
	}
	return nil
}
