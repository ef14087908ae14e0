package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/sdk/web"
)

func runUp(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("up", "Everything on one port: origin (ingest at /ingest/), edge (viewers at /live/), tracker\n(/tracker, /announce, /api/streams), metrics (/metrics), with the live demo stream \"demo\".")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on (port 0 picks a free port)")
	of := addOriginFlags(fs)
	ef := addEdgeFlags(fs)
	tf := addTrackerFlags(fs, "") // a demo forgets its policies unless asked to keep them
	cert, key := tlsFlags(fs)
	nPeers := fs.Int("peers", 0, "start this many viewer peers of the demo stream in this process (WebRTC swarm, live status on the terminal)")
	iceIface := fs.String("ice-interface", "lo", "network interface the --peers use for WebRTC (\"lo\": loopback only)")
	logger := logFlags(fs)
	profiler := pprofFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *nPeers < 0 || *nPeers > 200 {
		return fmt.Errorf("--peers %d: want 0 to 200", *nPeers)
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
	defer o.Close()
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
	defer e.Close() // stops origin fetches still in flight
	tcfg, err := tf.config(*ef.playSecret)
	if err != nil {
		return err
	}
	tcfg.Logger, tcfg.Registerer = log.With("component", "tracker"), reg
	// --peers and the demo's browser tabs all come from loopback: lift the per-address
	// limit there, unless --addr-limit-cidr says otherwise.
	tcfg.AddrLimits.Ranges = append(tcfg.AddrLimits.Ranges,
		quota.Range{Prefix: netip.MustParsePrefix("127.0.0.0/8")}, quota.Range{Prefix: netip.MustParsePrefix("::1/128")})
	// Without a token, only a loopback-only `shoal up` takes admin writes: nobody else
	// can reach it.
	tcfg.AdminOpen = tcfg.AdminToken == "" && loopbackOnly(*listen)
	tcfg.OnTakedown = localTakedown(o, e)
	t, err := tracker.New(tcfg)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/ingest/", o.Handler())
	mux.Handle("/titles", o.Handler()) // the catalogue and takedown, behind the publish token
	mux.Handle("/titles/", o.Handler())
	mux.Handle("/live/", e.Handler())
	mux.Handle("/tracker", t.Handler())
	mux.Handle("/announce", t.Handler()) // WebTorrent clients (p2p-media-loader): docs/webtorrent.md
	mux.Handle("/api/", t.Handler())
	mux.Handle("/{$}", web.Handler()) // the demo page: hls.js + the SDK
	mux.Handle("/sdk/", web.Handler())
	cons := newConsole(t, func(_ context.Context, streams []string) (map[string]float64, error) {
		out := make(map[string]float64, len(streams))
		for _, s := range streams {
			out[s] = float64(e.BytesServed(s))
		}
		return out, nil
	}, log.With("component", "console"))
	mountConsole(mux, cons)
	var base string // set by the banner, before the loops start
	loops := []func(context.Context) error{osrv.Serve, o.Run, t.Run, cons.Run}
	if prof, err := profiler(log); err != nil {
		return err
	} else if prof != nil {
		loops = append(loops, prof)
	}
	if *nPeers > 0 {
		loops = append(loops, func(ctx context.Context) error {
			return runViewers(ctx, viewersConfig{
				n: *nPeers, base: base, iceInterface: *iceIface, playSecret: *ef.playSecret,
				log: log.With("component", "peer"), out: stdout,
			})
		})
	}
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, mux), stdout, log,
		func(url string) string {
			base = url
			return fmt.Sprintf("shoal up on %s\n  watch:  %s/   (browser: hls.js + the P2P SDK)\n  play:   %s/live/demo/index.m3u8   (e.g. ffplay, mpv, vlc)\n  ingest: ffmpeg -re -i IN -c copy -f hls -hls_time 2 -method PUT %s/ingest/NAME/index.m3u8\n  swarms: %s/api/streams   metrics: %s/metrics\n  console: %s/console", url, url, url, url, url, url, url)
		},
		loops...)
}

// loopbackOnly reports whether addr (host:port) listens on a loopback address only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
