package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("bench: bad config")

// Transports.
const (
	TransportEmulated = "emulated"
	TransportWebRTC   = "webrtc"
)

// Config describes one invocation: a scenario run twice (CDN-only, hybrid).
type Config struct {
	// Scenario is steady, flash-crowd, churn or heterogeneous (default steady).
	Scenario string
	// Peers is the number of viewers watching at once (default 10).
	Peers int
	// Duration is how long each of the two runs lasts (default 60 s).
	Duration time.Duration
	// Bitrate, when set, replaces the built-in demo stream (~1.5 Mbit/s) by a
	// synthetic stream of that many bit/s pushed through the origin's ingest.
	Bitrate int64
	// SegmentDuration of the synthetic stream (default 2 s).
	SegmentDuration time.Duration
	// Transport is emulated (default) or webrtc (real pion on loopback).
	Transport string
	// Speed runs the stream this many times faster than real time (default
	// 1): one transport.ScaledClock drives every component. Emulated
	// transport only (pion's timers run in real time).
	Speed float64
	// Seed makes the scenario (latencies, join times, churn) reproducible.
	Seed uint64
	// Scheduler tunes every engine's piece scheduler (peer.Config.Scheduler;
	// zero fields take the defaults).
	Scheduler scheduler.Policy
	// Only runs a single mode ("cdn_only" or "hybrid"); empty runs both.
	Only string
	// Progress receives a one-line status every ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Logger receives component logs (nil: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Scenario == "" {
		c.Scenario = ScenarioSteady
	}
	if _, ok := scenarios[c.Scenario]; !ok {
		return c, fmt.Errorf("%w: unknown scenario %q (want %s)", ErrConfig, c.Scenario, scenarioNames())
	}
	if c.Peers == 0 {
		c.Peers = 10
	}
	if c.Peers < 1 || c.Peers > 20000 {
		return c, fmt.Errorf("%w: peers %d out of range 1..20000", ErrConfig, c.Peers)
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Duration < 5*time.Second {
		return c, fmt.Errorf("%w: duration %v shorter than 5 s", ErrConfig, c.Duration)
	}
	if c.Bitrate < 0 || (c.Bitrate > 0 && c.Bitrate < 64_000) {
		return c, fmt.Errorf("%w: bitrate %d bit/s (0 = demo stream, else at least 64 kbit/s)", ErrConfig, c.Bitrate)
	}
	if c.SegmentDuration == 0 {
		c.SegmentDuration = 2 * time.Second
	}
	if c.SegmentDuration < 500*time.Millisecond {
		return c, fmt.Errorf("%w: segment duration %v below 500 ms", ErrConfig, c.SegmentDuration)
	}
	switch c.Transport {
	case "":
		c.Transport = TransportEmulated
	case TransportEmulated, TransportWebRTC:
	default:
		return c, fmt.Errorf("%w: transport %q (want emulated or webrtc)", ErrConfig, c.Transport)
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Speed < 0.1 || c.Speed > 100 {
		return c, fmt.Errorf("%w: speed %g out of range 0.1..100", ErrConfig, c.Speed)
	}
	if c.Transport == TransportWebRTC && c.Speed != 1 {
		return c, fmt.Errorf("%w: speed %g with webrtc transport (pion runs in real time: speed 1 only)", ErrConfig, c.Speed)
	}
	switch c.Only {
	case "", ModeCDNOnly, ModeHybrid:
	default:
		return c, fmt.Errorf("%w: mode %q (want cdn_only or hybrid)", ErrConfig, c.Only)
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
