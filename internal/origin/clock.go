package origin

import (
	"context"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// sleepOn waits d on clk (Config.Clock, which a bench may run faster than
// real time); false if ctx ended first.
func sleepOn(ctx context.Context, clk transport.Clock, d time.Duration) bool {
	c := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(c) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}
