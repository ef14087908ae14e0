package peer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// world is a real origin (demo stream), edge and tracker on loopback.
type world struct {
	t      *testing.T
	origin *origin.Origin
	edge   *edge.Edge
	esrv   *httptest.Server
	osrv   *httptest.Server

	trMu     sync.Mutex
	tr       *tracker.Tracker
	tsrv     *httptest.Server
	trCancel context.CancelFunc
	trDone   chan struct{}
	trAddr   string
	trCfg    tracker.Config
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PEER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newWorld(t *testing.T, tcfg tracker.Config) *world {
	t.Helper()
	return newWorldOrigin(t, origin.Config{Demo: true}, tcfg)
}

// newWorldOrigin is newWorld with an origin configured by ocfg.
func newWorldOrigin(t *testing.T, ocfg origin.Config, tcfg tracker.Config) *world {
	t.Helper()
	o, err := origin.New(ocfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	odone := make(chan struct{})
	go func() { o.Run(ctx); close(odone) }()
	osrv := httptest.NewServer(o.Handler())
	e, err := edge.New(edge.Config{Origin: osrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	esrv := httptest.NewServer(e.Handler())
	w := &world{t: t, origin: o, edge: e, esrv: esrv, osrv: osrv, trCfg: tcfg}
	w.trCfg.TrustProxy = true // each test peer claims its own address (bans count addresses)
	w.startTracker()
	t.Cleanup(func() {
		w.stopTracker()
		esrv.Close()
		e.Close()
		cancel()
		<-odone
		osrv.Close()
	})
	return w
}

// startTracker starts (or restarts, on the same address) the tracker.
func (w *world) startTracker() {
	w.t.Helper()
	w.trMu.Lock()
	defer w.trMu.Unlock()
	tr, err := tracker.New(w.trCfg)
	if err != nil {
		w.t.Fatal(err)
	}
	addr := w.trAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil || i > 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.trAddr = ln.Addr().String()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: tr.Handler()}}
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	w.tr, w.tsrv, w.trCancel, w.trDone = tr, srv, cancel, done
}

// stopTracker kills the tracker: every WebSocket closed, the port closed.
func (w *world) stopTracker() {
	w.trMu.Lock()
	defer w.trMu.Unlock()
	if w.tr == nil {
		return
	}
	w.trCancel()
	<-w.trDone
	w.tsrv.CloseClientConnections()
	w.tsrv.Close()
	w.tr = nil
}

func (w *world) tracker() *tracker.Tracker {
	w.trMu.Lock()
	defer w.trMu.Unlock()
	return w.tr
}

func (w *world) trackerURL() string { return "ws://" + w.trAddr + "/tracker" }

// testPeer is one engine with its proxy on a loopback server.
type testPeer struct {
	p      *Peer
	proxy  *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// peerConfig is the base config of test peers: WebRTC on loopback only.
func (w *world) peerConfig(i int) Config {
	return Config{
		Edge: w.esrv.URL, Tracker: w.trackerURL(), Stream: "demo", ICEInterface: "lo",
		TrackerHeader: http.Header{"X-Forwarded-For": {fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)}},
		Logger:        testLogger(w.t),
	}
}

func (w *world) startPeer(cfg Config) *testPeer {
	w.t.Helper()
	p, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testPeer{p: p, proxy: httptest.NewServer(p.Handler()), cancel: cancel, done: make(chan struct{})}
	go func() { p.Run(ctx); close(tp.done) }()
	w.t.Cleanup(tp.stop)
	return tp
}

func (tp *testPeer) stop() {
	tp.cancel()
	<-tp.done
	tp.proxy.Close()
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v %.200s", url, resp.Status, err, b)
	}
	return b
}

// segmentURIs lists the segment URIs of a media playlist.
func segmentURIs(pl []byte) []string {
	var out []string
	for _, l := range strings.Split(string(pl), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// checkProxy fetches the segments of the proxy's playlist that the engine
// plays (from the player model's start on) from the proxy and from the origin
// (not the edge: its counter measures the peers alone) and requires identical
// bytes; it returns how many it checked.
func checkProxy(t *testing.T, w *world, tp *testPeer, seen map[string]bool) int {
	t.Helper()
	st := tp.p.Stats()
	if !st.Player.Started {
		return 0
	}
	pl := get(t, tp.proxy.URL+"/live/demo/index.m3u8")
	n := 0
	for _, u := range segmentURIs(pl) {
		if strings.Contains(u, "://") || strings.Contains(u, "?") {
			t.Fatalf("proxy playlist has a non-relative URI %q", u)
		}
		if seen != nil && seen[u] {
			continue
		}
		_, seq, ok := segmentSeq(strings.TrimPrefix(u, "index/"))
		if !ok {
			t.Fatalf("proxy playlist lists %q", u)
		}
		if seq < st.Player.StartSeq {
			continue
		}
		a := get(t, tp.proxy.URL+"/live/demo/"+u)
		b := get(t, w.osrv.URL+"/live/demo/"+u)
		if !bytes.Equal(a, b) {
			t.Fatalf("segment %s: proxy served %d bytes that differ from the origin's %d", u, len(a), len(b))
		}
		if seen != nil {
			seen[u] = true
		}
		n++
	}
	return n
}
