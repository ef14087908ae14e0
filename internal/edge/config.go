package edge

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultCacheBytes           = 512 << 20
	DefaultPlaylistTTLFraction  = 0.25
	DefaultUpstreamTimeout      = 10 * time.Second
	DefaultMaxObjectBytes       = 64 << 20
	DefaultMaxConcurrentFetches = 64
	DefaultAllowOrigin          = "*"

	// minPlaylistTTL and maxPlaylistTTL clamp the playlist lifetime: below 100 ms the
	// origin sees a request storm, above 2 s players fall behind live.
	minPlaylistTTL = 100 * time.Millisecond
	maxPlaylistTTL = 2 * time.Second
	// unknownPlaylistTTL applies to playlists without EXT-X-TARGETDURATION (multivariant).
	unknownPlaylistTTL = 500 * time.Millisecond
	// vodPlaylistTTL is the lifetime of an on-demand title's media playlist
	// (#EXT-X-PLAYLIST-TYPE:VOD): the origin's max-age, docs/vod.md.
	vodPlaylistTTL = 10 * time.Second
	// keyTTL is the lifetime of /live/{stream}/key: it only changes when an operator
	// rotates the origin key.
	keyTTL = 60 * time.Second
	// notFoundTTL bounds negative caching of a 404 playlist or key; segments are never
	// negatively cached (a player may ask for one just before it is published).
	notFoundTTL = 500 * time.Millisecond
)

// Config configures an Edge. The zero value of every field but Origin is usable.
type Config struct {
	// Origin is the base URL of the origin (or of a parent edge), e.g.
	// "http://127.0.0.1:8081". Request paths are appended 1:1. Required.
	Origin string
	// CacheBytes bounds the bytes held by the object cache (default 512 MiB).
	CacheBytes int64
	// PlaylistTTLFraction is a media playlist's cache lifetime as a fraction of its
	// EXT-X-TARGETDURATION (default 0.25), clamped to [100ms, 2s]. Playlists without a
	// target duration (multivariant) live 500 ms.
	PlaylistTTLFraction float64
	// UpstreamTimeout bounds every origin request, headers and body (default 10s).
	UpstreamTimeout time.Duration
	// StaleIfError is how long past its lifetime a playlist or key is still served when
	// the origin fails (unreachable, timeout, 5xx; 404 for a live playlist): stale.go.
	// Zero: DefaultStaleIfErrorTargets target durations (6 s at 2 s segments), 6 s
	// without one. Negative: never.
	StaleIfError time.Duration
	// Prefetch is how many of the newest segments of a live media playlist (with
	// their records) the edge fetches as soon as it gets the playlist, so that they
	// are here before viewers ask, and while the origin is down (prefetch.go).
	// 0: none (fetch on request only).
	Prefetch int
	// MaxObjectBytes bounds one origin body; larger objects are answered 502 (default 64 MiB).
	MaxObjectBytes int64
	// MaxConcurrentFetches bounds origin requests in flight, and with MaxObjectBytes
	// the memory held by fetches (default 64).
	MaxConcurrentFetches int
	// PlaySecret, when set, requires a viewer token (internal/token) for the stream in
	// the path on every GET/HEAD request; otherwise 403.
	PlaySecret []byte
	// AllowOrigin is the Access-Control-Allow-Origin value (default "*").
	AllowOrigin string
	// Client performs origin requests (default: a client with a tuned transport that
	// does not follow redirects).
	// Its own Timeout, if any, applies in addition to UpstreamTimeout.
	Client *http.Client
	// Logger receives upstream errors (nil: discard).
	Logger *slog.Logger
	// Registerer receives the edge's metrics (nil: no metrics).
	Registerer prometheus.Registerer
	// Now is the clock of cache lifetimes and token expiry (nil: time.Now),
	// so that a bench can run the edge faster than real time.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.PlaylistTTLFraction <= 0 {
		c.PlaylistTTLFraction = DefaultPlaylistTTLFraction
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.MaxObjectBytes <= 0 {
		c.MaxObjectBytes = DefaultMaxObjectBytes
	}
	if c.MaxConcurrentFetches <= 0 {
		c.MaxConcurrentFetches = DefaultMaxConcurrentFetches
	}
	if c.AllowOrigin == "" {
		c.AllowOrigin = DefaultAllowOrigin
	}
	if c.Client == nil {
		c.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // an edge talks to its origin directly
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 128,
				IdleConnTimeout:     90 * time.Second,
				ForceAttemptHTTP2:   true,
			},
			// Paths map 1:1 to the origin: a redirect is an origin error (502), not
			// something to follow to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
