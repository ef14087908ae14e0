package transport

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of an emulated network (and anything that must run
// faster than real time in the bench). Inside a testing/synctest bubble the
// SystemClock is already virtual.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run; it reports whether it did.
	Stop() bool
}

// SystemClock is the time package's clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                            { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// ScaledClock runs speed times faster than real time from the moment it is
// made: Now advances speed seconds per real second and AfterFunc(d) fires
// after d/speed of real time. speed <= 0 means 1.
func ScaledClock(speed float64) Clock {
	if speed <= 0 {
		speed = 1
	}
	now := time.Now()
	return &scaledClock{origin: now, mono: now, speed: speed}
}

type scaledClock struct {
	origin time.Time // reported time at start
	mono   time.Time // real time at start (monotonic)
	speed  float64
}

func (c *scaledClock) Now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.mono)) * c.speed))
}

func (c *scaledClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(time.Duration(float64(d)/c.speed), f)
}

// Sleep waits d on clk and reports true, or false as soon as ctx ends.
func Sleep(ctx context.Context, clk Clock, d time.Duration) bool {
	done := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-done:
		return true
	}
}

// Ticker delivers clk's time on C every period of clk; ticks a slow receiver misses are
// dropped, as time.Ticker's are.
type Ticker struct {
	C <-chan time.Time

	mu      sync.Mutex
	t       Timer
	stopped bool
}

// NewTicker starts a Ticker on clk.
func NewTicker(clk Clock, period time.Duration) *Ticker {
	c := make(chan time.Time, 1)
	tk := &Ticker{C: c}
	var fire func()
	fire = func() {
		tk.mu.Lock()
		defer tk.mu.Unlock()
		if tk.stopped {
			return // no tick after Stop returned
		}
		select {
		case c <- clk.Now():
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
func (tk *Ticker) Stop() {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopped = true
	tk.t.Stop()
}
