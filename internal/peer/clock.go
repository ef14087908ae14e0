package peer

import (
	"context"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// Every time read, tick, timer and timeout of the engine goes through
// Config.Clock, so that a bench can run it faster (or slower) than real time
// with transport.ScaledClock. What the engine does not own runs in real time:
// the HTTP client's own timeouts, the tracker client, pion's ICE/DTLS/SCTP
// timers (the emulated transport takes the same clock).

// after returns a channel closed once d has passed on clk, and its timer.
func after(clk transport.Clock, d time.Duration) (<-chan struct{}, transport.Timer) {
	c := make(chan struct{})
	return c, clk.AfterFunc(d, func() { close(c) })
}

// withTimeout is context.WithTimeout on clk. The context's error on expiry
// is context.Canceled with cause context.DeadlineExceeded.
func withTimeout(parent context.Context, clk transport.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := clk.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}
