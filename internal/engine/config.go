package engine

import (
	"log/slog"
	"time"

	"github.com/shoal-cdn/shoal/internal/player"
	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// Config configures an Engine. Stream and Rendition are required; zero
// fields take the default written beside them.
type Config struct {
	// Stream and Rendition name the swarm; HELLOs must match them.
	Stream, Rendition string
	// Swarm: a tracker is configured, so neighbours may be used (the
	// tracker's policy may still turn P2P off).
	Swarm bool
	// MaxUpload caps the total upload in bit/s; 0 = no cap (the tracker's
	// policy may still set one; the lower wins). Negative: upload nothing.
	MaxUpload int64
	// UploadCapacity is announced in HELLO, bit/s (0: we upload nothing).
	UploadCapacity int64
	// MaxNeighbours bounds links kept at once (default 32).
	MaxNeighbours int
	// Player tunes the player model.
	Player player.Config
	// Scheduler tunes the piece scheduler; P2P, NoUpload and Stripe are the
	// engine's (from the policy, the upload settings and the tracker).
	Scheduler scheduler.Policy
	// Tick, if set, re-runs the decisions at least this often (the real-time
	// shell uses 50 ms); zero wakes only when something is due.
	Tick time.Duration
	// PlanGap: while the player plays on, plans are made at most this often
	// (default DefaultPlanGap); negative: every plan at once (tests that
	// hold time still).
	PlanGap time.Duration
	// StartGrace: how long the start segment's pieces asked of neighbours
	// may take before the edge sends them (default DefaultStartGrace;
	// negative: the start segment comes from the edge, as in CDN-only).
	StartGrace time.Duration
	// NoDeliverData: Deliver carries no bytes (a bench that only counts).
	NoDeliverData bool
	// ReportPieces: emit Verified for every piece stored.
	ReportPieces bool
	// VOD tunes on-demand playback (vod.go).
	VOD VODConfig
	// Push: subscribe to neighbours' substreams and push to subscribers
	// (push.go); off, the engine only pulls (experimental: off by default).
	Push bool
	// Rand returns the 32-bit PING tokens (default: a counter).
	Rand func() uint32
	// Logger receives debug and info logs (nil: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Rendition == "" {
		c.Rendition = "index"
	}
	c.VOD = c.VOD.withDefaults()
	c.Player.Start = c.VOD.Start
	if c.PlanGap == 0 {
		c.PlanGap = DefaultPlanGap
	}
	if c.StartGrace == 0 {
		c.StartGrace = DefaultStartGrace
	}
	if c.MaxNeighbours <= 0 {
		c.MaxNeighbours = 32
	}
	if c.MaxUpload < 0 {
		c.UploadCapacity = 0
	}
	if c.Rand == nil {
		var n uint32
		c.Rand = func() uint32 { n++; return n * 0x9e3779b1 }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
