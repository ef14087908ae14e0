package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-cdn/shoal/internal/server"
)

// newRegistry returns a Prometheus registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// withMetrics serves /metrics from reg and everything else from h.
func withMetrics(reg *prometheus.Registry, h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", h)
	return mux
}

// serve listens, prints the banner with the actual base URL, then runs the server and the
// background loops until ctx ends or one of them fails.
func serve(ctx context.Context, cfg server.Config, h http.Handler, stdout io.Writer, log *slog.Logger,
	banner func(url string) string, loops ...func(context.Context) error) error {
	srv, err := server.Listen(cfg, h)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, banner(srv.URL()))
	log.Info("listening", "url", srv.URL())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx) })
	for _, loop := range loops {
		g.Go(func() error {
			if err := loop(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}
