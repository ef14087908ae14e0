package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

func runUp(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("up", "Everything on one port: origin (ingest at /ingest/), edge (viewers at /live/), tracker\n(/tracker, /api/streams), metrics (/metrics), with the live demo stream \"demo\".")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on (port 0 picks a free port)")
	of := addOriginFlags(fs)
	ef := addEdgeFlags(fs)
	tf := addTrackerFlags(fs)
	cert, key := tlsFlags(fs)
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := logger()
	reg := newRegistry()

	ocfg, err := of.config(true)
	if err != nil {
		return err
	}
	ocfg.Logger, ocfg.Registerer = log.With("component", "origin"), reg
	o, err := origin.New(ocfg)
	if err != nil {
		return err
	}
	// The edge reaches the origin over a private loopback listener, as it would over
	// the network: the edge under test is the real HTTP proxy.
	osrv, err := server.Listen(server.Config{Logger: ocfg.Logger}, o.Handler())
	if err != nil {
		return err
	}

	ecfg := ef.config(osrv.URL())
	ecfg.Logger, ecfg.Registerer = log.With("component", "edge"), reg
	e, err := edge.New(ecfg)
	if err != nil {
		return err
	}
	tcfg := tf.config(*ef.playSecret)
	tcfg.Logger, tcfg.Registerer = log.With("component", "tracker"), reg
	t, err := tracker.New(tcfg)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/ingest/", o.Handler())
	mux.Handle("/live/", e.Handler())
	mux.Handle("/tracker", t.Handler())
	mux.Handle("/api/", t.Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "shoal is up.\n\nplay:    /live/demo/index.m3u8\ningest:  /ingest/STREAM/index.m3u8 (ffmpeg -method PUT)\nswarms:  /api/streams\nmetrics: /metrics\n")
	})
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, mux), stdout, log,
		func(url string) string {
			return fmt.Sprintf("shoal up on %s\n  play:   %s/live/demo/index.m3u8   (e.g. ffplay, mpv, vlc)\n  ingest: ffmpeg -re -i IN -c copy -f hls -hls_time 2 -method PUT %s/ingest/NAME/index.m3u8\n  swarms: %s/api/streams   metrics: %s/metrics", url, url, url, url, url)
		},
		osrv.Serve, o.Run, t.Run)
}
