package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// trackerFlags are the flags of the tracker, shared by `shoal tracker` and `shoal up`.
type trackerFlags struct {
	neighbours *int
}

func addTrackerFlags(fs *flag.FlagSet) *trackerFlags {
	return &trackerFlags{
		neighbours: fs.Int("max-neighbours", 10, "neighbours the tracker gives each peer"),
	}
}

func (t *trackerFlags) config(playSecret string) tracker.Config {
	return tracker.Config{MaxNeighbours: *t.neighbours, PlaySecret: []byte(playSecret)}
}

func runTracker(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("tracker", "WebSocket signalling for peer swarms (one per stream rendition) at /tracker,\nswarm stats at /api/streams. With --nats (or --nats-embed) it is one node of a tracker\ncluster: the swarms span every node (docs/tracker.md \"State and clustering\").")
	listen := fs.String("listen", "127.0.0.1:8083", "address to serve on (port 0 picks a free port)")
	playSecret := fs.String("play-secret", "", "peers need a viewer token signed with this secret to join")
	tf := addTrackerFlags(fs)
	cf := addClusterFlags(fs)
	cert, key := tlsFlags(fs)
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := logger().With("component", "tracker")
	reg := newRegistry()
	cfg := tf.config(*playSecret)
	cfg.Logger, cfg.Registerer = log, reg
	node, stopNATS, err := cf.start(log, reg)
	if err != nil {
		return err
	}
	defer stopNATS()
	if node != nil {
		cfg.Cluster = node
		defer node.Close()
	}
	t, err := tracker.New(cfg)
	if err != nil {
		return err
	}
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, t.Handler()), stdout, log,
		func(url string) string { return fmt.Sprintf("shoal tracker on %s (WebSocket %s/tracker)", url, url) },
		t.Run)
}
