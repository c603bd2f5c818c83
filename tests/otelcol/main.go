// Command otelcol is a deliberately small OpenTelemetry Collector
// distribution for the mesh's tracing tests.
//
// It is what the collector builder (ocb) would generate for a manifest with
// one receiver, one processor and one exporter, written out by hand so the
// repository carries no generator step:
//
//   - receiver:  otlp   (OTLP over gRPC and HTTP)
//   - processor: batch
//   - exporter:  file   (OTLP/JSON, one export request per line)
//
// Configuration comes from a YAML file (--config=/path/or/file:URI); ${env:X}
// and bare ${X} references are expanded from the environment, so tests may
// pass the listen port or the output path that way.
//
// The tests start it on loopback, send spans to it over OTLP/gRPC, and read
// the JSON lines back. See scripts/otelcol.sh for the build.
package main

import (
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// version is the collector core release this distribution is built from;
// keep it in step with go.mod.
const version = "0.161.0"

func components() (otelcol.Factories, error) {
	var (
		f   otelcol.Factories
		err error
	)
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
	); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
	); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		fileexporter.NewFactory(),
	); err != nil {
		return f, err
	}
	// The service refuses to start without a telemetry factory; this is the
	// one that reads service::telemetry (logs level, metrics level, ...).
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, nil
}

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "mesh test collector (otlp receiver, batch processor, file exporter)",
			Version:     version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					fileprovider.NewFactory(),
					envprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
	// cobra already prints the error to stderr; only the exit code is left.
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		os.Exit(1)
	}
}
