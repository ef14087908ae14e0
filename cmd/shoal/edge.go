package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/server"
)

// edgeFlags are the flags of the edge, shared by `shoal edge` and `shoal up`.
type edgeFlags struct {
	cacheBytes byteSize
	timeout    *time.Duration
	stale      *time.Duration
	prefetch   *int
	playSecret *string
}

func addEdgeFlags(fs *flag.FlagSet) *edgeFlags {
	e := &edgeFlags{cacheBytes: edge.DefaultCacheBytes}
	fs.Var(&e.cacheBytes, "cache-bytes", "bytes of segments and playlists the edge keeps in memory")
	e.timeout = fs.Duration("upstream-timeout", edge.DefaultUpstreamTimeout, "limit on every request to the origin")
	e.stale = fs.Duration("stale-if-error", 0, "how long past its lifetime a playlist is served while the origin fails (0: 3 target durations; negative: never)")
	e.prefetch = fs.Int("prefetch", 2, "newest segments of a live playlist (and their records) fetched ahead of viewers (0: none)")
	e.playSecret = fs.String("play-secret", "", "viewers need an HMAC token signed with this secret (?token= or Authorization: Bearer)")
	return e
}

func (e *edgeFlags) config(originURL string) edge.Config {
	return edge.Config{
		Origin:          originURL,
		CacheBytes:      int64(e.cacheBytes),
		UpstreamTimeout: *e.timeout,
		StaleIfError:    *e.stale,
		Prefetch:        *e.prefetch,
		PlaySecret:      []byte(*e.playSecret),
	}
}

func runEdge(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("edge", "A caching HLS reverse proxy in front of an origin (a CDN node). Several edges may\nfront one origin.")
	listen := fs.String("listen", "127.0.0.1:8082", "address to serve on (port 0 picks a free port)")
	originURL := fs.String("origin", "", "base URL of the origin, e.g. http://127.0.0.1:8081 (required)")
	ef := addEdgeFlags(fs)
	adminToken := fs.String("admin-token", "", "bearer token of POST/DELETE /takedown/STREAM (the tracker's --takedown-edges purges this edge at once); none: refused")
	cert, key := tlsFlags(fs)
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *originURL == "" {
		return fmt.Errorf("--origin is required")
	}
	log := logger().With("component", "edge")
	reg := newRegistry()
	cfg := ef.config(*originURL)
	// The cache is most of the heap: with a soft limit a little above it the
	// edge stays near --cache-bytes instead of twice it (2 h title read
	// through a 512 MiB cache: 1,068 MiB RSS without; docs/vod.md).
	setMemoryLimit(int64(ef.cacheBytes) + int64(ef.cacheBytes)/4 + 64<<20)
	cfg.Logger, cfg.Registerer = log, reg
	e, err := edge.New(cfg)
	if err != nil {
		return err
	}
	defer e.Close() // stops origin fetches still in flight
	mux := http.NewServeMux()
	mux.Handle("/takedown/", e.TakedownHandler(*adminToken))
	mux.Handle("/", e.Handler())
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, mux), stdout, log,
		func(url string) string { return fmt.Sprintf("shoal edge on %s (origin %s)", url, *originURL) })
}
