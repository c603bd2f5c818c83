package mesh

// #include "mesh.h"
import "C"

import (
	"context"
	"errors"
)

// watchContext makes ctx's cancellation cancel the engine call that uses
// the returned handle. stop must be called once that call has returned: it
// ends the watch and frees the handle, after waiting for a cancellation
// already being fired, so the handle is never freed under mesh_cancel_fire.
//
// A context that can never end (Done() == nil, e.g. context.Background())
// needs no handle, which saves two cgo calls per request. When the context
// has a deadline, the engine already enforces it as the request's timeout
// and reports it as a timeout, so the watch leaves deadlines to the engine
// rather than racing it with a cancellation.
func watchContext(ctx context.Context, hasDeadline bool) (cancel *C.mesh_cancel, stop func()) {
	if ctx.Done() == nil {
		return nil, func() {}
	}
	cancel = C.mesh_cancel_new()
	fired := make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(fired)
		if hasDeadline && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return
		}
		C.mesh_cancel_fire(cancel)
	})
	return cancel, func() {
		if !stopWatching() {
			<-fired // the callback has started: let it finish with the handle
		}
		C.mesh_cancel_free(cancel)
	}
}
