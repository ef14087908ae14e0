package main

import (
	"context"
	"fmt"
	"github.com/shoal-cdn/shoal/internal/transport/webrtc"
	"io"
	"log/slog"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/peer"
	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/token"
	"github.com/shoal-cdn/shoal/internal/transport"
)

func runPeer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("peer", "A viewer peer: follows a live rendition from an edge, shares pieces with the swarm over\nWebRTC (every piece verified against the origin's signed records) and serves the\nstream to any HLS player at http://LISTEN/live/STREAM/RENDITION.m3u8.")
	edgeURL := fs.String("edge", "", "base URL of the edge, e.g. http://127.0.0.1:8080 (required); several, comma separated, to fail over between edges")
	trackerURL := fs.String("tracker", "", `tracker WebSocket URL; several, comma separated, for the nodes of a tracker cluster (tried in turn) (default: ws://EDGE-HOST/tracker, as served by "shoal up"; "off": CDN only)`)
	stream := fs.String("stream", "demo", "stream to play")
	rendition := fs.String("rendition", "index", "rendition of the stream")
	listen := fs.String("listen", "127.0.0.1:8090", "address of the local HLS proxy (port 0 picks a free port)")
	var maxUpload byteSize
	fs.Var(&maxUpload, "max-upload", "upload cap in bit/s, e.g. 4M (0: none; the tracker's policy may set a lower one)")
	noUpload := fs.Bool("no-upload", false, "never upload to other peers (consent: docs/abuse.md)")
	turnURL := fs.String("turn", "", "TURN relay for WebRTC (turn:host:port, e.g. a `shoal turn`)")
	turnUser := fs.String("turn-user", "", "TURN username (with `shoal turn --secret`: EXPIRY:NAME as minted by `shoal turn --mint`)")
	turnPass := fs.String("turn-pass", "", "TURN password")
	relayOnly := fs.Bool("relay-only", false, "WebRTC through the --turn relay only: neighbours see the relay's address, never yours")
	stun := fs.String("stun", "", "comma-separated STUN server URLs (stun:host:port); ignored with --ice-interface")
	iceIface := fs.String("ice-interface", "", `keep WebRTC on this one network interface ("lo": loopback only), no mDNS, no STUN`)
	trustedKey := fs.String("trusted-key", "", "pin the stream's public key (base64, as served at /live/STREAM/key) instead of fetching it from the edge")
	tok := fs.String("token", "", "viewer token for the edge and the tracker")
	start := fs.Duration("start", 0, "on a title: the position to start playing at, e.g. 5m30s")
	bufferGoal := fs.Duration("buffer-goal", engine.DefaultBufferGoal, "on a title: how far ahead of the playhead segments are fetched")
	keepBytes := byteSize(engine.DefaultKeepBytes)
	fs.Var(&keepBytes, "keep-bytes", "on a title: segment bytes kept for neighbours, e.g. 256MiB (the furthest from the playhead go first)")
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	edges := splitList(*edgeURL)
	if len(edges) == 0 {
		return fmt.Errorf("--edge is required")
	}
	*edgeURL = edges[0]
	trackers := splitList(*trackerURL)
	if len(trackers) == 0 {
		trackers = []string{""}
	}
	tr, err := trackerFor(trackers[0], *edgeURL)
	if err != nil {
		return err
	}
	log := logger().With("component", "peer")
	reg := newRegistry()
	cfg := peer.Config{
		Edge: *edgeURL, Tracker: tr, Stream: *stream, Rendition: *rendition, Token: *tok,
		MaxUpload: int64(maxUpload), ICEInterface: *iceIface, Logger: log, Registerer: reg,
		VOD: engine.VODConfig{Start: *start, BufferGoal: *bufferGoal, KeepBytes: int64(keepBytes)},
	}
	if tr != "" {
		cfg.Trackers = trackers[1:]
	}
	cfg.Edges = edges[1:]
	if *noUpload {
		cfg.MaxUpload = -1
	}
	if *stun != "" {
		cfg.STUN = strings.Split(*stun, ",")
	}
	if *turnURL != "" {
		cfg.TURN = []webrtc.TURNServer{{URL: *turnURL, Username: *turnUser, Credential: *turnPass}}
	}
	if *relayOnly && *turnURL == "" {
		return fmt.Errorf("--relay-only needs --turn")
	}
	cfg.RelayOnly = *relayOnly
	if *trustedKey != "" {
		if cfg.TrustedKey, err = manifest.ParsePublicKey([]byte(*trustedKey)); err != nil {
			return fmt.Errorf("--trusted-key: %w", err)
		}
	}
	p, err := peer.New(cfg)
	if err != nil {
		return err
	}
	run := p.Run
	// A viewer's peer lives beside a player: keep the Go heap small (it
	// holds a few segments) rather than letting garbage double it; on a
	// title it keeps up to --keep-bytes for its neighbours on top.
	if setMemoryLimit(20 << 20) {
		run = func(ctx context.Context) error {
			go raiseLimitOnTitle(ctx, p, 20<<20+int64(keepBytes))
			return p.Run(ctx)
		}
	}
	return serve(ctx, server.Config{Addr: *listen, Logger: log}, withMetrics(reg, p.Handler()), stdout, log,
		func(u string) string {
			return fmt.Sprintf("shoal peer on %s\n  play:  %s/live/%s/%s.m3u8   (e.g. ffplay, mpv, vlc)\n  stats: %s/stats", u, u, *stream, *rendition, u)
		},
		run)
}

// raiseLimitOnTitle raises the memory limit to limit once the peer knows it
// plays a title (its first playlist ended); it looks for a minute.
func raiseLimitOnTitle(ctx context.Context, p *peer.Peer, limit int64) {
	for range 120 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		if p.Stats().VOD {
			debug.SetMemoryLimit(limit)
			return
		}
	}
}

// trackerFor resolves --tracker: explicit URL, "off", or derived from the edge.
func trackerFor(flagValue, edgeURL string) (string, error) {
	switch flagValue {
	case "off":
		return "", nil
	case "":
		u, err := url.Parse(edgeURL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("--edge %q: not a URL", edgeURL)
		}
		scheme := "ws"
		if u.Scheme == "https" {
			scheme = "wss"
		}
		return scheme + "://" + u.Host + "/tracker", nil
	}
	return flagValue, nil
}

// viewersConfig configures the in-process viewer peers of `shoal up --peers`.
type viewersConfig struct {
	n            int
	base         string // the up server's URL (edge at /live/, tracker at /tracker)
	iceInterface string
	playSecret   string
	log          *slog.Logger
	out          io.Writer
}

// runViewers runs n peers of the demo stream against the up server's own edge
// and tracker, one joining every 300 ms, and prints a one-line swarm status
// every 5 s until ctx ends.
func runViewers(ctx context.Context, vc viewersConfig) error {
	tr, err := trackerFor("", vc.base)
	if err != nil {
		return err
	}
	var tok string
	if vc.playSecret != "" {
		tok = token.Sign([]byte(vc.playSecret), "demo", time.Now().Add(365*24*time.Hour))
	}
	g, ctx := errgroup.WithContext(ctx)
	peers := make([]*peer.Peer, 0, vc.n)
	for i := range vc.n {
		p, err := peer.New(peer.Config{
			Edge: vc.base, Tracker: tr, Stream: "demo", Token: tok, ICEInterface: vc.iceInterface,
			Logger: vc.log.With("viewer", i),
		})
		if err != nil {
			return err
		}
		peers = append(peers, p)
		g.Go(func() error { return p.Run(ctx) })
		if !transport.Sleep(ctx, transport.SystemClock(), 300*time.Millisecond) {
			break
		}
	}
	g.Go(func() error {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				fmt.Fprintln(vc.out, viewersStatus(peers))
			}
		}
	})
	return g.Wait()
}

// viewersStatus is one line: peers, CDN vs P2P bytes, offload, stalls.
func viewersStatus(peers []*peer.Peer) string {
	var cdn, p2p, up, stalls int64
	var nbs, playing int
	for _, p := range peers {
		st := p.Stats()
		cdn += st.BytesCDN
		p2p += st.BytesP2P
		up += st.BytesUp
		stalls += int64(st.Player.Stalls)
		nbs += st.Neighbours
		if st.Player.Started {
			playing++
		}
	}
	off := 0.0
	if cdn+p2p > 0 {
		off = 100 * float64(p2p) / float64(cdn+p2p)
	}
	return fmt.Sprintf("peers %d (playing %d, links %d) | CDN %.1f MB  P2P %.1f MB  up %.1f MB | offload %.1f%% | stalls %d",
		len(peers), playing, nbs/2, float64(cdn)/1e6, float64(p2p)/1e6, float64(up)/1e6, off, stalls)
}
