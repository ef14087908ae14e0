package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/player"
)

// Stats are the engine's figures since New. CDN bytes are the caller's: it
// reads the edge.
type Stats struct {
	// BytesP2P counts unique verified piece bytes received from neighbours.
	BytesP2P int64
	// BytesUp counts piece bytes handed to link writers.
	BytesUp int64
	// BytesDup counts piece bytes received while we already held the piece
	// and still had the request open: two sources raced.
	BytesDup int64
	// BytesWasted counts piece bytes that arrived after they were no longer
	// needed (cancelled, timed out, voided, or out of the window).
	BytesWasted int64
	// Pushed counts pieces queued for subscribers without a request.
	Pushed int64
	// Plans counts the scheduler's plans: most of an engine's work.
	Plans int64
	// BadPieces counts pieces that failed verification (from anyone).
	BadPieces  int64
	Neighbours int
	// Complete is the number of complete segments held in the window.
	Complete int
	// Player is the player model's measurement.
	Player player.Stats
	// EdgePieces counts pieces asked of the edge by reason: p2p_off, urgent,
	// seed, fallback (scheduler.Reason − 1).
	EdgePieces [4]int
	// Urgent is the urgent window of the last plan.
	Urgent time.Duration
	// On demand (vod.go): segment bytes held at the last budget check, and
	// segments dropped to stay within VOD.KeepBytes.
	VODHeld, VODDropped int64
	// VOD: playing an on-demand title, at media position Position.
	VOD      bool
	Position time.Duration
}

// Stats returns the figures now.
func (e *Engine) Stats() Stats {
	st := e.stats
	st.Neighbours = len(e.nbs)
	for _, s := range e.segs {
		if s.complete {
			st.Complete++
		}
	}
	st.Player = e.pl.Stats()
	st.Urgent = e.urgent
	st.VODHeld, st.VOD = e.vod.held, e.vod.on
	if e.vod.on {
		st.Position = e.pl.Position()
	}
	return st
}

// LatencySamples are the player model's live-latency samples (oldest first).
func (e *Engine) LatencySamples() []time.Duration { return e.pl.LatencySamples() }
