package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoal-cdn/shoal/internal/cluster"
	"github.com/shoal-cdn/shoal/internal/console"
	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// trackerFlags are the flags of the tracker, shared by `shoal tracker` and `shoal up`.
type trackerFlags struct {
	neighbours   *int
	adminToken   *string
	policyFile   *string
	regionHeader *string
	regionCIDRs  keyValues
	addrLimit    *int
	addrCIDRs    keyValues
	proxies      *string
}

// addTrackerFlags adds the tracker's flags; policyFile is --policy-file's default
// ("" keeps policies in memory).
func addTrackerFlags(fs *flag.FlagSet, policyFile string) *trackerFlags {
	t := &trackerFlags{regionCIDRs: keyValues{}, addrCIDRs: keyValues{}}
	t.neighbours = fs.Int("max-neighbours", swarm.DefaultMaxNeighbours, "neighbours the tracker gives each peer")
	t.adminToken = fs.String("admin-token", "", "bearer token for the admin API's writes (docs/admin.md); none: writes refused (shoal up on loopback: allowed)")
	t.policyFile = fs.String("policy-file", policyFile, "file keeping the operator's stream policies across restarts (empty: memory only)")
	t.regionHeader = fs.String("region-header", "", "request header your proxy or edge sets to the viewer's region (trusted: only behind that proxy)")
	fs.Var(t.regionCIDRs, "region-cidr", "viewer region by address: CIDR=REGION (repeatable); with this or --region-header, clients' own region labels are ignored")
	t.addrLimit = fs.Int("addr-limit", quota.DefaultPerAddr, "connections and joins in a burst per source address (IPv6: per /64), over /tracker and /announce; the joins refill in 20s; -1: no limit (docs/abuse.md)")
	fs.Var(t.addrCIDRs, "addr-limit-cidr", "--addr-limit for a range: CIDR=N (repeatable, longest prefix wins; 0: no limit), e.g. a campus NAT or your own load generator")
	t.proxies = fs.String("trusted-proxy", "", "comma-separated CIDRs of your reverse proxies: only their X-Forwarded-For is believed")
	return t
}

func defaultPolicyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "shoal", "policies.json")
}

func (t *trackerFlags) config(playSecret string) (tracker.Config, error) {
	cidrs, err := tracker.ParseRegionCIDRs(t.regionCIDRs)
	if err != nil {
		return tracker.Config{}, fmt.Errorf("--region-cidr: %w", err)
	}
	ranges, err := quota.ParseRanges(t.addrCIDRs)
	if err != nil {
		return tracker.Config{}, fmt.Errorf("--addr-limit-cidr: %w", err)
	}
	proxies, err := quota.ParseProxies(*t.proxies)
	if err != nil {
		return tracker.Config{}, fmt.Errorf("--trusted-proxy: %w", err)
	}
	if *t.addrLimit == 0 || *t.addrLimit < -1 {
		return tracker.Config{}, fmt.Errorf("--addr-limit: want a count ≥ 1, or -1 for no limit")
	}
	cfg := tracker.Config{MaxNeighbours: *t.neighbours, PlaySecret: []byte(playSecret), AdminToken: *t.adminToken,
		RegionHeader: *t.regionHeader, RegionCIDRs: cidrs,
		AddrLimits:     quota.Config{PerAddr: *t.addrLimit, Ranges: ranges},
		TrustedProxies: proxies.Prefixes}
	if *t.policyFile != "" {
		if cfg.Controls, err = tracker.OpenFileControlStore(*t.policyFile); err != nil {
			return tracker.Config{}, fmt.Errorf("--policy-file: %w", err)
		}
	}
	return cfg, nil
}

func runTracker(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("tracker", "WebSocket signalling for peer swarms (one per stream rendition) at /tracker,\nWebTorrent clients at /announce, swarm stats at /api/streams. With --nats (or --nats-embed)\nit is one node of a tracker cluster: the swarms span every node (docs/tracker.md \"State and clustering\").")
	listen := fs.String("listen", "127.0.0.1:8083", "address to serve on (port 0 picks a free port)")
	playSecret := fs.String("play-secret", "", "peers need a viewer token signed with this secret to join")
	tf := addTrackerFlags(fs, defaultPolicyFile())
	cf := addClusterFlags(fs)
	edgeMetrics := fs.String("edge-metrics", "", "comma-separated edge URLs whose /metrics give the console its CDN egress")
	originURL := fs.String("origin", "", "origin base URL: a takedown through the admin API also ends the stream there (POST /takedown/STREAM)")
	publishToken := fs.String("publish-token", "", "the origin's publish token, for --origin's takedown calls")
	welcomeTrackers := fs.String("welcome-trackers", "", "comma-separated ws(s)://HOST/tracker URLs of the other tracker nodes, sent in every welcome for viewers to fail over to")
	welcomeEdges := fs.String("welcome-edges", "", "comma-separated http(s) edge URLs sent in every welcome for viewers to fail over to")
	takedownEdges := fs.String("takedown-edges", "", "comma-separated edge URLs a takedown purges at once (their POST /takedown/STREAM, with --admin-token)")
	cert, key := tlsFlags(fs)
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := logger().With("component", "tracker")
	reg := newRegistry()
	cfg, err := tf.config(*playSecret)
	if err != nil {
		return err
	}
	cfg.Logger, cfg.Registerer = log, reg
	cfg.WelcomeTrackers, cfg.WelcomeEdges = splitList(*welcomeTrackers), splitList(*welcomeEdges)
	var hooks []func(context.Context, string, bool) error
	if *originURL != "" {
		hooks = append(hooks, originTakedown(*originURL, *publishToken))
	}
	for _, u := range splitList(*takedownEdges) {
		hooks = append(hooks, edgeTakedown(u, *tf.adminToken))
	}
	if len(hooks) > 0 {
		cfg.OnTakedown = allTakedowns(hooks)
	}
	node, stopNATS, err := cf.start(log, reg)
	if err != nil {
		return err
	}
	defer stopNATS()
	var ctl *cluster.Controls
	if node != nil {
		cfg.Cluster = node
		defer node.Close()
		var bans *cluster.Bans
		if ctl, bans, err = cf.shared(ctx, node, log); err != nil {
			return err
		}
		if ctl != nil {
			cfg.Controls, cfg.Store = ctl, bans
			defer ctl.Close()
			defer bans.Close()
		}
	}
	t, err := tracker.New(cfg)
	if err != nil {
		return err
	}
	if ctl != nil {
		ctl.Watch(t.ApplyControl)
	}
	var egress func(context.Context, []string) (map[string]float64, error)
	if *edgeMetrics != "" {
		egress = console.EdgeScraper{URLs: strings.Split(*edgeMetrics, ",")}.Egress
	}
	cons := newConsole(t, egress, log)
	mux := http.NewServeMux()
	mux.Handle("/", t.Handler())
	mountConsole(mux, cons)
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, mux), stdout, log,
		func(url string) string {
			return fmt.Sprintf("shoal tracker on %s (WebSocket %s/tracker, WebTorrent %s/announce, console %s/console)", url, url, url, url)
		},
		t.Run, cons.Run)
}
