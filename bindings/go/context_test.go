package mesh_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	mesh "example.invalid/mesh/bindings/go"
)

// slowService is a service whose one endpoint answers only when released
// (or after 10 s), with a route timeout long enough not to interfere.
type slowService struct {
	client  *http.Client
	mesh    *mesh.Mesh
	arrived chan struct{} // one value per request the backend receives
}

func startSlowService(t *testing.T) *slowService {
	t.Helper()
	s := &slowService{arrived: make(chan struct{}, 1000)}
	release := make(chan struct{})
	b := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		s.arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		w.Write([]byte("slow"))
	})
	// Registered after startBackend's cleanup, so it runs first: the
	// handlers return before the server waits for them.
	t.Cleanup(func() { close(release) })
	s.mesh = newMesh(t, mesh.StaticConfig(singleRouteConfig("slow-service",
		[]string{"timeout: 30s", "retries: {attempts: 0}"}, b.addr())))
	s.client = &http.Client{Transport: s.mesh}
	return s
}

// The engine enforces a context deadline as the request's timeout, so the
// error is a timeout (not a cancellation) that also matches the context.
func TestContextDeadlineIsATimeout(t *testing.T) {
	s := startSlowService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://slow-service/", nil)
	start := time.Now()
	_, err := s.client.Do(req)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, mesh.ErrTimeout) {
		t.Fatalf("err = %v, want one matching context.DeadlineExceeded and mesh.ErrTimeout", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("the request took %v with a 100ms deadline", elapsed)
	}
}

func TestContextCancelStopsRequestInFlight(t *testing.T) {
	s := startSlowService(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelledAt := make(chan time.Time, 1)
	go func() {
		<-s.arrived // the request is in flight
		cancelledAt <- time.Now()
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://slow-service/", nil)
	_, err := s.client.Do(req)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, mesh.ErrCancelled) {
		t.Fatalf("err = %v, want one matching context.Canceled and mesh.ErrCancelled", err)
	}
	if took := time.Since(<-cancelledAt); took > time.Second {
		t.Errorf("the request returned %v after its cancellation", took)
	}
}

func TestContextEndedBeforeSending(t *testing.T) {
	s := startSlowService(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://slow-service/", nil)
	if _, err := s.mesh.RoundTrip(req); !errors.Is(err, context.Canceled) || !errors.Is(err, mesh.ErrCancelled) {
		t.Errorf("err = %v, want one matching context.Canceled and mesh.ErrCancelled", err)
	}
	if n := len(s.arrived); n != 0 {
		t.Errorf("%d requests reached the backend", n)
	}
}
