module example.invalid/mesh/tests/otelcol

go 1.24.0
