package peer

import (
	"context"
	"sync"
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

// ticker delivers a tick on C every period of clk; ticks a slow receiver
// misses are dropped, like time.Ticker's.
type ticker struct {
	C chan struct{}

	mu      sync.Mutex
	t       transport.Timer
	stopped bool
}

func newTicker(clk transport.Clock, period time.Duration) *ticker {
	tk := &ticker{C: make(chan struct{}, 1)}
	var fire func()
	fire = func() {
		tk.mu.Lock()
		defer tk.mu.Unlock()
		if tk.stopped {
			return // no tick after Stop returned
		}
		select {
		case tk.C <- struct{}{}:
		default:
		}
		tk.t = clk.AfterFunc(period, fire)
	}
	tk.mu.Lock()
	tk.t = clk.AfterFunc(period, fire)
	tk.mu.Unlock()
	return tk
}

func (tk *ticker) Stop() {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopped = true
	tk.t.Stop()
}
