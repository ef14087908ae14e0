package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// origin is a real HTTP origin on loopback that serves fixed objects and counts the
// requests it receives per path.
type origin struct {
	srv  *httptest.Server
	mu   sync.Mutex
	objs map[string][]byte
	hits map[string]int
	// hook, when set, runs before an object is served; it may answer itself (true).
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func newOrigin(t *testing.T, objs map[string][]byte) *origin {
	t.Helper()
	o := &origin{objs: objs, hits: make(map[string]int)}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		body, ok := o.objs[r.URL.Path]
		hook := o.hook
		o.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[p]
}

func (o *origin) set(p string, body []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objs[p] = body
}

func (o *origin) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hook = h
}

// clock is a settable time source for Edge.now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	origin *origin
	edge   *Edge
	srv    *httptest.Server // serves edge.Handler()
	clock  *clock
	reg    *prometheus.Registry
}

// newFixture starts an origin with objs and an edge in front of it; cfg.Origin is set.
func newFixture(t *testing.T, cfg Config, objs map[string][]byte) *fixture {
	t.Helper()
	f := &fixture{origin: newOrigin(t, objs), clock: newClock(), reg: prometheus.NewRegistry()}
	cfg.Origin = f.origin.srv.URL
	cfg.Registerer = f.reg
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.now = f.clock.now
	t.Cleanup(func() { _ = e.Close() })
	f.edge = e
	f.srv = httptest.NewServer(e.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// get performs a request against the edge and returns the response with its body read.
func (f *fixture) do(t *testing.T, method, p string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (f *fixture) get(t *testing.T, p string) (*http.Response, []byte) {
	t.Helper()
	return f.do(t, http.MethodGet, p, nil)
}

// pattern returns n deterministic bytes, distinct per seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

const testPlaylist = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-MAP:URI="index/mabc12-init.mp4"
#EXTINF:2.000,
index/mabc12-41.m4s
#EXTINF:2.000,
index/mabc12-42.m4s
`
