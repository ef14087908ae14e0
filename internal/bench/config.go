package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("bench: bad config")

// Transports.
const (
	TransportEmulated = "emulated"
	TransportWebRTC   = "webrtc"
	// TransportVirtual is what a virtual-clock report says it ran on.
	TransportVirtual = "virtual"
)

// Clocks.
const (
	// ClockReal runs every component on goroutines and a clock (scaled by
	// Speed): origin, edge and tracker servers, links, engines.
	ClockReal = "real"
	// ClockVirtual runs the same engine and tracker cores as discrete
	// events on one queue, with modelled links and a modelled edge.
	ClockVirtual = "virtual"
)

// Frame forms of a virtual run.
const (
	FramesAuto     = ""         // bytes up to vIdentityAbove viewers, identities above
	FramesBytes    = "bytes"    // frames encoded and decoded by internal/wire, pieces copied
	FramesIdentity = "identity" // frames carried as messages, piece bytes shared
)

// vIdentityAbove: larger virtual runs carry piece identities (the bytes of
// every viewer's copy would not fit in memory); a test shows both forms give
// the same report.
const vIdentityAbove = 1000

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
	// Input, when set, is a directory holding an encoded MPEG-TS rendition
	// (an HLS media playlist and its segments, e.g. ffmpeg's output) that
	// replaces the demo stream: pushed through the origin's ingest on the
	// bench's clock, in a loop (input.go).
	Input string
	// Transport is emulated (default) or webrtc (real pion on loopback).
	Transport string
	// Speed runs the stream this many times faster than real time (default
	// 1): one transport.ScaledClock drives every component. Emulated
	// transport only (pion's timers run in real time).
	Speed float64
	// Clock is real (default) or virtual.
	Clock string
	// Frames is the frame form of a virtual run (FramesAuto by default).
	Frames string
	// Cores is how many partitions of the viewers a virtual run runs at
	// once, each on its own goroutine (0: GOMAXPROCS). The report is the
	// same for any number.
	Cores int
	// Seed makes the scenario (latencies, join times, churn) reproducible.
	Seed uint64
	// Scheduler tunes every engine's piece scheduler (peer.Config.Scheduler;
	// zero fields take the defaults).
	Scheduler scheduler.Policy
	// Push: the engines push substreams (engine.Config.Push).
	Push bool
	// Only runs a single mode ("cdn_only" or "hybrid"); empty runs both.
	Only string
	// HeapProfile, if set, receives a Go heap profile of a virtual-time run
	// at the end of its stream, before its viewers leave (for cutting the
	// core's memory per viewer); the last run's profile is the one kept.
	HeapProfile func() (io.WriteCloser, error)
	// Progress receives a one-line status every ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Logger receives component logs (nil: discard).
	Logger *slog.Logger

	input *input // Input, read once by Run
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
	switch c.Clock {
	case "":
		c.Clock = ClockReal
	case ClockReal, ClockVirtual:
	default:
		return c, fmt.Errorf("%w: clock %q (want real or virtual)", ErrConfig, c.Clock)
	}
	maxPeers := 20000
	if c.Clock == ClockVirtual {
		maxPeers = 1_000_000
		if c.Speed != 0 {
			return c, fmt.Errorf("%w: speed with the virtual clock (virtual time runs as fast as it can)", ErrConfig)
		}
		if c.Transport != "" && c.Transport != TransportEmulated {
			return c, fmt.Errorf("%w: transport %q with the virtual clock (it models its own links)", ErrConfig, c.Transport)
		}
		switch c.Frames {
		case FramesAuto, FramesBytes, FramesIdentity:
		default:
			return c, fmt.Errorf("%w: frames %q (want bytes or identity)", ErrConfig, c.Frames)
		}
		if c.Cores < 0 || c.Cores > 256 {
			return c, fmt.Errorf("%w: cores %d out of range 0..256", ErrConfig, c.Cores)
		}
		if c.Cores == 0 {
			c.Cores = runtime.GOMAXPROCS(0)
		}
	} else if c.Frames != "" || c.Cores != 0 {
		return c, fmt.Errorf("%w: frames %q or cores %d without the virtual clock", ErrConfig, c.Frames, c.Cores)
	}
	if c.Peers < 1 || c.Peers > maxPeers {
		return c, fmt.Errorf("%w: peers %d out of range 1..%d", ErrConfig, c.Peers, maxPeers)
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
	if c.SegmentDuration != 0 && c.Bitrate == 0 {
		return c, fmt.Errorf("%w: segment duration %v needs a synthetic stream (the demo's segments are 2 s): give a bitrate", ErrConfig, c.SegmentDuration)
	}
	if c.Input != "" && (c.Bitrate > 0 || c.SegmentDuration != 0 || isVOD(c.Scenario)) {
		return c, fmt.Errorf("%w: an input with a bitrate, a segment duration or an on-demand scenario (the input sets the first two; a title is published by the origin)", ErrConfig)
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

// pieceIdentity reports whether a virtual run carries piece identities.
func (c Config) pieceIdentity() bool {
	return c.Frames == FramesIdentity || (c.Frames == FramesAuto && c.Peers > vIdentityAbove)
}

// pushed is the stream the bench pushes through the origin's ingest: the
// input, or synthetic MPEG-TS at Bitrate; nil for the origin's own demo.
func (c Config) pushed() source {
	switch {
	case c.input != nil:
		return c.input.segment
	case c.Bitrate > 0:
		return synthetic{bitrate: c.Bitrate, segDur: c.SegmentDuration, seed: c.Seed}.segment
	}
	return nil
}

// streamName is the name the stream is published under.
func (c Config) streamName() string {
	switch {
	case c.input != nil:
		return inputStream
	case c.Bitrate > 0:
		return syntheticStream
	}
	return demoStream
}
