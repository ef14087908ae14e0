package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/shoal-cdn/shoal/internal/console"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// newConsole returns the console's sampler over t; egress (nil: none) gives the CDN's
// bytes served per stream.
func newConsole(t *tracker.Tracker, egress func(context.Context, []string) (map[string]float64, error), log *slog.Logger) *console.Sampler {
	return console.New(console.Config{
		Swarms: func(ctx context.Context) ([]console.Swarm, error) {
			all, err := t.Streams(ctx, "")
			out := make([]console.Swarm, 0, len(all))
			for _, s := range all {
				out = append(out, console.Swarm{Stream: s.Stream, Peers: s.Peers, BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, Offload: s.Offload})
			}
			return out, err
		},
		Egress: egress,
		Logger: log,
	})
}

// mountConsole serves the console page, its series and /favicon.ico on mux.
func mountConsole(mux *http.ServeMux, s *console.Sampler) {
	h := s.Handler()
	mux.Handle("/console", h)
	mux.Handle("/console/", h)
	mux.Handle("/api/console/", h)
	mux.HandleFunc("/favicon.ico", console.Favicon)
}
