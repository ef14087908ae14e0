// Package peer is shoal's viewer engine: it follows a live HLS rendition from an
// edge, joins the rendition's swarm through the tracker, fetches what is due soon
// from the edge (HTTP Range) and the rest from neighbours over the wire protocol
// (docs/wire.md), verifies every piece against the origin's signed record
// (docs/integrity.md) before storing, playing or forwarding it, and serves the
// result to any HLS player through a local proxy (Handler).
//
// One goroutine (the loop) owns all swarm state; helpers (playlist poller, edge
// fetches, tracker session, one reader and one writer per link) talk to it over
// bounded channels. The piece scheduler (internal/scheduler) decides what to
// fetch from where; the player model (internal/player) gives the deadlines and
// measures stalls and latency the same way for CDN-only and hybrid runs.
package peer

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/shoal-cdn/shoal/internal/transport/webrtc"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/player"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Errors.
var (
	ErrConfig  = errors.New("peer: bad config")
	ErrClosed  = errors.New("peer: engine stopped")
	ErrTimeout = errors.New("peer: segment not available in time")
)

// DefaultTick is Config.Tick's default: the decisions run at least this often.
const DefaultTick = 50 * time.Millisecond

// DefaultStatsInterval is Config.StatsInterval's default. The tracker acts on stats:
// seeders show their upload by them, and a member below its join target is given
// neighbours on them.
const DefaultStatsInterval = 2 * time.Second

// NewDialerFunc builds the transport for one tracker session: id is the peer id
// the tracker assigned, signal relays signalling to the tracker.
type NewDialerFunc func(id string, signal transport.SignalFunc) (transport.Dialer, error)

// Config configures a Peer. Edge and Stream are required; every other zero field
// takes the default written beside it.
type Config struct {
	// Edge is the base URL of the CDN edge, e.g. "http://127.0.0.1:8080".
	Edge string
	// Edges are more edges serving the same streams: a request that fails on the
	// network or with a 5xx moves the peer to the next and is retried there at once;
	// after 10 s on a fallback the peer tries Edge again.
	Edges []string
	// Tracker is the tracker's WebSocket URL, e.g. "ws://127.0.0.1:8080/tracker".
	// Empty: no swarm, everything comes from the edge.
	Tracker string
	// Trackers are more tracker URLs (several nodes of one tracker cluster): after a
	// failed dial or an ended session the peer moves to the next, round robin.
	Trackers []string
	// TrackerHeader is added to the tracker's upgrade request (e.g. a Bearer token).
	TrackerHeader http.Header
	// Stream and Rendition name the swarm (Rendition default "index").
	Stream, Rendition string
	// Token is a viewer token, sent to the edge (?token=) and in the tracker join.
	Token string
	// Region is the locality label sent in the join (optional).
	Region string

	// MaxUpload caps the total upload in bit/s; 0 = no cap (the tracker's policy
	// may still set one; the lower wins). Negative: upload nothing.
	MaxUpload int64
	// UploadCapacity is the upload capacity announced to the tracker and in HELLO,
	// bit/s (default MaxUpload if set, else 20 Mbit/s).
	UploadCapacity int64

	// TrustedKey pins the stream's public key; nil fetches /live/{stream}/key
	// from the edge.
	TrustedKey ed25519.PublicKey

	// NewDialer builds the transport (default: transport/webrtc with ICEInterface
	// and STUN below).
	NewDialer NewDialerFunc
	// ICEInterface keeps WebRTC on one interface ("lo" in tests); see
	// transport/webrtc.Config.ICEInterface.
	ICEInterface string
	// STUN server URLs, used when ICEInterface is empty.
	STUN []string
	// TURN relays (`shoal turn`); with RelayOnly, ICE uses their relay candidates
	// only, so neighbours see the relay's address and never ours (docs/abuse.md).
	TURN      []webrtc.TURNServer
	RelayOnly bool

	// Player tunes the player model (default: hls.js's, 3 target durations
	// behind live).
	Player player.Config
	// Scheduler tunes the piece scheduler (windows, timeouts; zero fields take
	// the scheduler's defaults). P2P, NoUpload and Stripe are the engine's:
	// set from the tracker's policy and the upload settings, ignored here.
	Scheduler scheduler.Policy
	// Push: subscribe to and push substreams (engine.Config.Push).
	Push bool
	// VOD tunes on-demand playback of a title: start position, buffer goal,
	// the bytes kept for neighbours (engine.VODConfig; peer/vod.go).
	VOD engine.VODConfig
	// Tick is the scheduler's heartbeat (default 50 ms); it also runs on every event.
	Tick time.Duration
	// StatsInterval is how often stats go to the tracker (default DefaultStatsInterval).
	StatsInterval time.Duration
	// ProxyWait bounds how long the proxy waits for a segment before it falls
	// back to the edge (default 2 × target duration, at least 4 s).
	ProxyWait time.Duration
	// MaxNeighbours bounds links kept at once (default 32).
	MaxNeighbours int

	// OnSegment, if set, is called once per segment when its last piece
	// verified (every piece checked against the signed record), with the
	// segment's whole bytes. It runs on the engine's loop goroutine, so it must
	// return quickly and never block (hand the work to a goroutine or a bounded
	// queue of your own), must not call back into the Peer's proxy, and must
	// not modify data: it is the buffer neighbours and the proxy are served
	// from (it never changes, so keeping it beyond the call is fine).
	OnSegment func(id wire.SegmentID, data []byte)

	// Clock is the engine's time source for every time read, tick, timer and
	// timeout (default transport.SystemClock). With transport.ScaledClock the
	// engine runs faster than real time; the origin, edge and links it talks to
	// must then run on the same clock (their PROGRAM-DATE-TIMEs, cache lifetimes
	// and delays are compared with it). The HTTP client's own timeouts stay in
	// real time.
	Clock transport.Clock

	// Client makes edge requests (default: a client with timeouts).
	Client *http.Client
	// Logger receives logs (nil: discard).
	Logger *slog.Logger
	// Registerer receives metrics (nil: none).
	Registerer prometheus.Registerer

	// declare, set only by this package's tests, is the upload capacity declared to
	// the tracker whatever the engine does: with MaxUpload < 0 it makes the
	// withholding seeder of docs/abuse.md.
	declare int64
	// tamper, set only by this package's tests, rewrites every piece we upload:
	// it turns the engine into the malicious peer of the integrity tests.
	tamper func(wire.SegmentID, int, []byte) []byte
	// journal, set only by this package's tests, records every event the
	// core took and every action it gave, for the replay test.
	journal journal
}

// journal records a core's life: start, each Step and each Ready.
type journal interface {
	start(at time.Time)
	step(at time.Time, ev engine.Event)
	ready(at time.Time, acts []engine.Action)
}

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.Edge)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("%w: edge URL %q", ErrConfig, c.Edge)
	}
	c.Edge = strings.TrimRight(c.Edge, "/")
	c.Edges = slices.Clone(c.Edges)
	for i, e := range c.Edges {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("%w: edge URL %q", ErrConfig, e)
		}
		c.Edges[i] = strings.TrimRight(e, "/")
	}
	if c.Tracker == "" && len(c.Trackers) > 0 {
		return c, fmt.Errorf("%w: Trackers without Tracker", ErrConfig)
	}
	for _, tr := range append([]string{c.Tracker}, c.Trackers...) {
		if tr == "" {
			continue
		}
		t, err := url.Parse(tr)
		if err != nil || (t.Scheme != "ws" && t.Scheme != "wss" && t.Scheme != "http" && t.Scheme != "https") || t.Host == "" {
			return c, fmt.Errorf("%w: tracker URL %q", ErrConfig, tr)
		}
	}
	if c.Rendition == "" {
		c.Rendition = "index"
	}
	if !validName(c.Stream) || !validName(c.Rendition) {
		return c, fmt.Errorf("%w: stream %q / rendition %q must match [A-Za-z0-9_-]{1,64}", ErrConfig, c.Stream, c.Rendition)
	}
	if c.TrustedKey != nil && len(c.TrustedKey) != ed25519.PublicKeySize {
		return c, fmt.Errorf("%w: trusted key has %d bytes", ErrConfig, len(c.TrustedKey))
	}
	if c.UploadCapacity < 0 {
		return c, fmt.Errorf("%w: negative upload capacity", ErrConfig)
	}
	if c.UploadCapacity == 0 {
		c.UploadCapacity = 20_000_000
		if c.MaxUpload > 0 {
			c.UploadCapacity = c.MaxUpload
		}
	}
	if c.MaxUpload < 0 {
		c.UploadCapacity = 0
	}
	if c.Tick <= 0 {
		c.Tick = DefaultTick
	}
	if c.StatsInterval <= 0 {
		c.StatsInterval = DefaultStatsInterval
	}
	if c.MaxNeighbours <= 0 {
		c.MaxNeighbours = 32
	}
	if c.Client == nil {
		c.Client = &http.Client{
			Timeout: 20 * time.Second,
			Transport: &http.Transport{
				MaxIdleConnsPerHost:   16,
				IdleConnTimeout:       90 * time.Second,
				ResponseHeaderTimeout: 10 * time.Second,
			},
		}
	}
	if c.Clock == nil {
		c.Clock = transport.SystemClock()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
