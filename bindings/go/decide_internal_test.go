package mesh

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestClassifyFailure(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		err  error
		want failure
	}{
		{context.DeadlineExceeded, failureTimeout},
		{fmt.Errorf("attempt: %w", context.DeadlineExceeded), failureTimeout},
		{&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}}, failureTimeout},
		{refused, failureConnect},
		{&url.Error{Op: "Get", URL: "http://x", Err: refused}, failureConnect},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, failureReset},
		{io.ErrUnexpectedEOF, failureReset},
	} {
		if got := classifyFailure(c.err); got != c.want {
			t.Errorf("classifyFailure(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestMillisCeil(t *testing.T) {
	for d, want := range map[int64]uint64{-1: 0, 0: 0, 1: 1, 999_999: 1, 1_000_000: 1, 1_000_001: 2} {
		if got := millisCeil(time.Duration(d)); got != want {
			t.Errorf("millisCeil(%dns) = %d, want %d", d, got, want)
		}
	}
}
