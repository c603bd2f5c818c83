module example.invalid/mesh/bindings/go

go 1.24
