package origin

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/transport"
)

// Defaults applied to zero Config fields.
const (
	DefaultWindow           = 12
	DefaultQuietTimeout     = 30 * time.Second
	DefaultMaxSegmentBytes  = 32 << 20
	DefaultMaxPlaylistBytes = 1 << 20
	DefaultMaxStreams       = 64
	DefaultMaxRenditions    = 16
	DefaultDemoStream       = "demo"
	DefaultStoreBytes       = 4 << 30
)

// Config configures an Origin. The zero value is a working origin with the defaults
// below, open ingest (no token), an ephemeral signing key, no demo and no pulls.
type Config struct {
	// Window is the number of segments listed per rendition (default 12). The Window
	// segments before them stay fetchable but unlisted.
	Window int
	// QuietTimeout is how long an encoder may stay silent before its stream ends with
	// #EXT-X-ENDLIST (default 30s). Pending segments that no playlist lists expire
	// after the same time.
	QuietTimeout time.Duration
	// Linger is how long an ended stream stays served before it is removed (default:
	// Window × the stream's target duration, so a player can finish the window).
	Linger time.Duration
	// MaxSegmentBytes bounds one segment or init body (default 32 MiB); more is 413.
	MaxSegmentBytes int64
	// MaxPlaylistBytes bounds one playlist body (default 1 MiB); more is 413.
	MaxPlaylistBytes int64
	// MaxStreams bounds the number of streams, demo and pulls included (default 64).
	MaxStreams int
	// MaxRenditions bounds the renditions of one stream (default 16).
	MaxRenditions int

	// StoreDir holds on-demand titles (VOD pushes, replays, records of VodDir titles)
	// across restarts (docs/vod.md). Empty: a temporary directory, created on first
	// use and removed by Close.
	StoreDir string
	// StoreBytes bounds the titles in the store (default 4 GiB): the oldest titles not
	// being read are evicted first; a push that cannot fit is refused with 507.
	StoreBytes int64
	// VodDir is a directory of finished HLS titles (VodDir/TITLE/*.m3u8 and segments),
	// served as they are and never written to.
	VodDir string
	// KeepEnded keeps an ended live stream as a replay title for this long; 0 removes
	// it after Linger as a live stream.
	KeepEnded time.Duration

	// PublishToken, if set, is a static token every ingest request must carry (query
	// "token" or "Authorization: Bearer"): missing → 401, wrong → 403.
	PublishToken string
	// PublishSecret, if set, accepts per-stream HMAC tokens (internal/token) signed
	// with it for the stream being pushed: missing → 401; bad, expired or for another
	// stream → 403. With both set, either is accepted.
	PublishSecret []byte

	// Demo publishes the built-in looping stream "demo" (rendition "index").
	Demo bool
	// DemoInterval overrides the pace of the demo (one new segment per interval);
	// 0 means each segment's own duration (real time). Meant for tests.
	DemoInterval time.Duration
	// Pulls maps stream names to upstream HLS URLs (media or multivariant playlists) to
	// relay.
	Pulls map[string]string
	// PullInterval overrides the upstream poll interval; 0 means half the upstream
	// target duration, clamped to [250ms, 5s].
	PullInterval time.Duration

	// ClockSequence starts every new live rendition's media sequence and discontinuity
	// sequence from the wall clock (sequence.go), its first segment behind
	// #EXT-X-DISCONTINUITY, so that an origin restarted without state continues the
	// numbering of the one it replaces (docs/reliability.md). False starts both at 0:
	// small, predictable numbers for tests and benches. VOD pushes always start at 0.
	ClockSequence bool

	// Key signs segment records; nil generates an ephemeral key.
	Key ed25519.PrivateKey
	// StreamKeys overrides Key for the named streams.
	StreamKeys map[string]ed25519.PrivateKey

	// Client fetches from pull upstreams; nil uses a client with timeouts.
	Client *http.Client
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the origin's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock; nil means Clock.Now.
	Now func() time.Time
	// Clock drives the demo's publishing timer and the reaper's ticker (and
	// Now when Now is nil), so that a bench can run the origin faster than
	// real time with transport.ScaledClock; nil means transport.SystemClock.
	Clock transport.Clock
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.Window == 0 {
		d.Window = DefaultWindow
	}
	if d.QuietTimeout == 0 {
		d.QuietTimeout = DefaultQuietTimeout
	}
	if d.MaxSegmentBytes == 0 {
		d.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if d.MaxPlaylistBytes == 0 {
		d.MaxPlaylistBytes = DefaultMaxPlaylistBytes
	}
	if d.MaxStreams == 0 {
		d.MaxStreams = DefaultMaxStreams
	}
	if d.MaxRenditions == 0 {
		d.MaxRenditions = DefaultMaxRenditions
	}
	if d.StoreBytes == 0 {
		d.StoreBytes = DefaultStoreBytes
	}
	switch {
	case d.Window < 1:
		return d, fmt.Errorf("%w: Window %d < 1", ErrConfig, d.Window)
	case d.QuietTimeout < 0 || d.Linger < 0 || d.DemoInterval < 0 || d.PullInterval < 0 || d.KeepEnded < 0:
		return d, fmt.Errorf("%w: negative duration", ErrConfig)
	case d.MaxSegmentBytes < 0 || d.MaxPlaylistBytes < 0 || d.MaxStreams < 0 || d.MaxRenditions < 0 || d.StoreBytes < 0:
		return d, fmt.Errorf("%w: negative limit", ErrConfig)
	case d.Key != nil && len(d.Key) != ed25519.PrivateKeySize:
		return d, fmt.Errorf("%w: Key has %d bytes", ErrConfig, len(d.Key))
	}
	for name, k := range d.StreamKeys {
		if !media.ValidName(name) || len(k) != ed25519.PrivateKeySize {
			return d, fmt.Errorf("%w: StreamKeys[%q]", ErrConfig, name)
		}
	}
	for name, u := range d.Pulls {
		pu, err := url.Parse(u)
		if !media.ValidName(name) || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return d, fmt.Errorf("%w: Pulls[%q] = %q: want NAME=http(s)://host/path.m3u8", ErrConfig, name, u)
		}
		if d.Demo && name == DefaultDemoStream {
			return d, fmt.Errorf("%w: pull %q collides with the demo stream", ErrConfig, name)
		}
	}
	if n := len(d.Pulls); d.Demo && n+1 > d.MaxStreams || n > d.MaxStreams {
		return d, fmt.Errorf("%w: more pulls than MaxStreams", ErrConfig)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = transport.SystemClock()
	}
	if d.Now == nil {
		d.Now = d.Clock.Now
	}
	if d.Client == nil {
		d.Client = &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: 10 * time.Second,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConnsPerHost:   8,
			},
		}
	}
	return d, nil
}
