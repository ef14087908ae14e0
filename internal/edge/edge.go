// Package edge is shoal's CDN node: an HLS-aware caching reverse proxy in front of an
// origin. Segments, init sections and piece-hash records are immutable and cached in a
// byte-bounded cache; playlists live a fraction of their target duration; concurrent
// misses are coalesced into one origin fetch. See docs/architecture.md for the URL space.
//
// Memory is bounded: the cache holds at most Config.CacheBytes (weighted by body size;
// the eviction policy is otter's W-TinyLFU), and at most MaxConcurrentFetches origin
// bodies of at most MaxObjectBytes each are being read at any time. A cached object may
// outlive its eviction only while responses still write it.
package edge

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/shoal-cdn/shoal/internal/takedown"
	"golang.org/x/sync/singleflight"
)

// Edge serves /live/... from its cache, filling it from the origin.
type Edge struct {
	cfg         Config
	origin      string // Config.Origin without a trailing slash
	cache       *otter.Cache[string, *object]
	flights     singleflight.Group
	fetchSlots  chan struct{}
	allowOrigin []string // Access-Control-Allow-Origin value, shared by all responses
	metrics     *metrics
	now         func() time.Time // Config.Now; replaced by tests
	down        takedown.Set     // streams the operator took down (takedown.go)

	ctx    context.Context // parent of every origin fetch; ended by Close
	cancel context.CancelFunc
}

// New validates cfg, applies defaults and builds an Edge.
func New(cfg Config) (*Edge, error) {
	u, err := url.Parse(cfg.Origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %q", ErrNoOrigin, cfg.Origin)
	}
	cfg = cfg.withDefaults()
	cache, err := newCache(cfg.CacheBytes)
	if err != nil {
		return nil, fmt.Errorf("edge: cache: %w", err)
	}
	e := &Edge{
		cfg:         cfg,
		origin:      strings.TrimRight(cfg.Origin, "/"),
		cache:       cache,
		fetchSlots:  make(chan struct{}, cfg.MaxConcurrentFetches),
		allowOrigin: []string{cfg.AllowOrigin},
		now:         cfg.Now,
	}
	e.metrics, err = newMetrics(cfg.Registerer, func() float64 { return float64(cache.WeightedSize()) })
	if err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Close aborts origin fetches in flight; requests waiting on them get 502. The handler
// stays usable for cached objects.
func (e *Edge) Close() error {
	e.cancel()
	return nil
}

// BytesServed returns the object body bytes written to clients for stream (200 and 206
// responses, as accepted by the connection). Exact; streams beyond the first 1024 are
// summed under "_other".
func (e *Edge) BytesServed(stream string) int64 {
	if s, ok := e.metrics.streams.Load(stream); ok {
		return s.(*streamStats).served.Load()
	}
	if stream == otherStream {
		return e.metrics.other.served.Load()
	}
	return 0
}

// TotalBytesServed returns the object body bytes written to clients for all streams.
func (e *Edge) TotalBytesServed() int64 { return e.metrics.total.Load() }

// CacheBytes returns the weighted bytes currently held by the cache.
func (e *Edge) CacheBytes() int64 { return int64(e.cache.WeightedSize()) }
