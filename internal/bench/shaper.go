package bench

import (
	"context"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// shaper emulates a viewer's access link on its HTTP path to the edge: every
// response waits one round trip before its first byte, and bodies share the
// viewer's downlink (bytes are released at Down bit/s across all its
// requests). Without it, edge fetches over loopback would take microseconds
// and startup would say nothing. It runs on the run's clock, like the engine.
type shaper struct {
	clk   transport.Clock
	speed float64 // clk's speed relative to real time
	rtt   time.Duration
	rate  float64 // bytes/s; 0: unlimited

	mu   sync.Mutex
	free time.Time // when the downlink has sent everything granted so far
}

// edgeRTTBase is the part of the round trip to the edge beyond the viewer's
// own access latency (a CDN node a few milliseconds away).
const edgeRTTBase = 10 * time.Millisecond

func newShaper(clk transport.Clock, speed float64, spec viewerSpec) *shaper {
	return &shaper{clk: clk, speed: speed, rtt: 2*spec.Latency + edgeRTTBase, rate: spec.Down / 8}
}

// firstByte waits one round trip (false if ctx ended first).
func (s *shaper) firstByte(ctx context.Context) bool {
	if s == nil || s.rtt <= 0 {
		return true
	}
	return transport.Sleep(ctx, s.clk, s.rtt)
}

// take waits until n more bytes have crossed the downlink.
func (s *shaper) take(n int) {
	if s == nil || s.rate <= 0 || n <= 0 {
		return
	}
	now := s.clk.Now()
	s.mu.Lock()
	if s.free.Before(now) {
		s.free = now
	}
	s.free = s.free.Add(time.Duration(float64(n) / s.rate * float64(time.Second)))
	wait := s.free.Sub(now)
	s.mu.Unlock()
	// Sleep in chunks of at least a millisecond of real time: finer sleeps
	// cost CPU and are not honoured anyway (what is not slept now is owed by
	// the next read, through free).
	if real := time.Duration(float64(wait) / s.speed); real >= time.Millisecond {
		transport.Sleep(context.Background(), s.clk, wait)
	}
}
