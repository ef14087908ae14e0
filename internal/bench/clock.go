package bench

import (
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// One transport.Clock per invocation (Config.Speed) drives the origin, the
// edge, the emulated links, every engine, the shaped HTTP path and the bench's
// own schedule, samples and figures: every duration of a report is stream
// time. What runs in real time regardless: the tracker, the HTTP clients'
// timeouts and the loopback sockets themselves.

// ticker delivers clk's time on C every period of clk; ticks a slow receiver
// misses are dropped, like time.Ticker's.
type ticker struct {
	C chan time.Time

	mu      sync.Mutex
	t       transport.Timer
	stopped bool
}

func newTicker(clk transport.Clock, period time.Duration) *ticker {
	tk := &ticker{C: make(chan time.Time, 1)}
	var fire func()
	fire = func() {
		tk.mu.Lock()
		defer tk.mu.Unlock()
		if tk.stopped {
			return
		}
		select {
		case tk.C <- clk.Now():
		default:
		}
		tk.t = clk.AfterFunc(period, fire)
	}
	tk.mu.Lock()
	tk.t = clk.AfterFunc(period, fire)
	tk.mu.Unlock()
	return tk
}

// Stop ends the ticks; none is sent after it returns.
func (tk *ticker) Stop() {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopped = true
	tk.t.Stop()
}
