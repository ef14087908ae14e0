package peer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// TestClockHelpers: the engine's timers, tickers and timeouts run on the
// injected clock (here 50× faster than real time), so an hour of engine time
// passes in about a minute of wall time.
func TestClockHelpers(t *testing.T) {
	clk := transport.ScaledClock(50)
	ctx := context.Background()

	start := clk.Now()
	if !transport.Sleep(ctx, clk, time.Second) {
		t.Fatal("sleepOn ended early")
	}
	if el := clk.Now().Sub(start); el < time.Second {
		t.Errorf("transport.Sleep(1 s) returned after %v of clock time", el)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if transport.Sleep(done, clk, time.Hour) {
		t.Error("sleepOn on an ended context reported a full sleep")
	}

	tctx, tcancel := withTimeout(ctx, clk, 500*time.Millisecond)
	defer tcancel()
	select {
	case <-tctx.Done():
	case <-time.After(5 * time.Second): // 250 s of clock time
		t.Fatal("withTimeout(500 ms) on a 50× clock did not expire")
	}
	if !errors.Is(context.Cause(tctx), context.DeadlineExceeded) {
		t.Errorf("cause %v, want DeadlineExceeded", context.Cause(tctx))
	}
	cctx, ccancel := withTimeout(ctx, clk, time.Hour)
	ccancel()
	if !errors.Is(context.Cause(cctx), context.Canceled) {
		t.Errorf("cancelled before expiry: cause %v, want Canceled", context.Cause(cctx))
	}

	tk := transport.NewTicker(clk, 100*time.Millisecond)
	for i := range 3 {
		select {
		case <-tk.C:
		case <-time.After(5 * time.Second):
			t.Fatalf("tick %d did not come", i)
		}
	}
	tk.Stop()
	select { // at most one tick was already buffered
	case <-tk.C:
	default:
	}
	select {
	case <-tk.C:
		t.Error("ticker ticked after Stop")
	case <-time.After(100 * time.Millisecond): // 5 s of clock time, 50 periods
	}
}
