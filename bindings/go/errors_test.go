package mesh_test

import (
	"errors"
	"fmt"
	"testing"

	mesh "example.invalid/mesh/bindings/go"
)

// The names are the engine's, shared by every language.
func TestKindNamesAreTheEngines(t *testing.T) {
	for kind, want := range map[mesh.Kind]string{
		mesh.KindOK:                "ok",
		mesh.KindNoRoute:           "no_route",
		mesh.KindNoHealthyEndpoint: "no_healthy_endpoint",
		mesh.KindConfigInvalid:     "config_invalid",
		mesh.KindInvalidRequest:    "invalid_request",
		mesh.KindTimeout:           "timeout",
		mesh.KindOverloaded:        "overloaded",
		mesh.KindRateLimited:       "rate_limited",
		mesh.KindTransport:         "transport",
		mesh.KindClosed:            "closed",
		mesh.KindInternal:          "internal",
		mesh.KindCancelled:         "cancelled",
		mesh.KindBodyTooLarge:      "body_too_large",
		mesh.KindInvalidArgument:   "invalid_argument",
		mesh.Kind(99):              "unknown",
	} {
		if got := kind.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(kind), got, want)
		}
	}
}

func TestErrorsMatchByKind(t *testing.T) {
	err := fmt.Errorf("calling orders: %w", &mesh.Error{Kind: mesh.KindTimeout, Message: "route timeout 800ms"})
	if !errors.Is(err, mesh.ErrTimeout) {
		t.Error("a wrapped timeout does not match ErrTimeout")
	}
	if errors.Is(err, mesh.ErrCancelled) {
		t.Error("a timeout matches ErrCancelled")
	}
	if got, want := errors.Unwrap(err).Error(), "mesh: timeout: route timeout 800ms"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := mesh.ErrNoRoute.Error(), "mesh: no_route"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestABIVersion(t *testing.T) {
	if v := mesh.ABIVersion(); v != 1 {
		t.Errorf("ABIVersion() = %d, want 1", v)
	}
	if mesh.Version() == "" {
		t.Error("Version() is empty")
	}
}
