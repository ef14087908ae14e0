package peer

import (
	"context"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
)

// Seek moves the player model of an on-demand title to media position pos
// (engine.Seek): the segment there is due now, and what the old position
// wanted is cancelled. A local player seeking through the proxy needs no
// call: asking for a segment far from the playhead is a seek. It reports
// false when the peer has stopped or ctx ended first; on a live stream the
// engine ignores it.
func (p *Peer) Seek(ctx context.Context, pos time.Duration) bool {
	return p.post(ctx, evCore{engine.Seek{Pos: pos}})
}
