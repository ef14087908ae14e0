package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// harness is a real tracker behind a loopback httptest server. TrustProxy is on (unless
// the test sets TrustedProxies) so each test client can claim its own address with
// X-Forwarded-For.
type harness struct {
	t   *testing.T
	tr  *Tracker
	srv *httptest.Server
	url string
	reg *prometheus.Registry
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	if cfg.TrustedProxies == nil {
		cfg.TrustProxy = true
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tr.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return &harness{t: t, tr: tr, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/tracker", reg: reg}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) dialErr(j Join, addr string) (*Client, error) {
	d := Dialer{HTTPHeader: http.Header{}}
	if addr != "" {
		d.HTTPHeader.Set("X-Forwarded-For", addr)
	}
	c, err := d.Dial(ctxT(h.t), h.url, j)
	if err == nil {
		h.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (h *harness) dial(j Join, addr string) *Client {
	h.t.Helper()
	c, err := h.dialErr(j, addr)
	if err != nil {
		h.t.Fatalf("dial %v from %s: %v", j, addr, err)
	}
	return c
}

// recv returns the next message, failing the test after a timeout.
func recv(t *testing.T, c *Client) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("peer %s: recv: %v", c.ID(), err)
	}
	return m
}

// recvAs skips messages until one of type T arrives.
func recvAs[T Message](t *testing.T, c *Client) T {
	t.Helper()
	for {
		if m, ok := recv(t, c).(T); ok {
			return m
		}
	}
}

// expectNothing asserts that no message matching match arrives within d.
func expectNothing(t *testing.T, c *Client, d time.Duration, match func(Message) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err != nil {
			return
		}
		if match(m) {
			t.Fatalf("peer %s: unexpected %T %+v", c.ID(), m, m)
		}
	}
}

// closed waits until the client's connection has ended and returns the cause.
func closed(t *testing.T, c *Client) error {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Recv(ctx)
		cancel()
		if errors.Is(err, ErrClosed) {
			return err
		}
		if err != nil {
			t.Fatalf("peer %s: not closed: %v", c.ID(), err)
		}
	}
}

// view is a client's picture of its neighbours, built from welcome and neighbours messages.
type view map[string]bool // id → initiator

func newView(w Welcome) view {
	v := view{}
	for _, n := range w.Neighbours {
		v[n.PeerID] = n.Initiator
	}
	return v
}

func (v view) apply(m Message) {
	if n, ok := m.(*Neighbours); ok {
		for _, id := range n.Remove {
			delete(v, id)
		}
		for _, a := range n.Add {
			v[a.PeerID] = a.Initiator
		}
	}
}

func (v view) ids() []string {
	out := make([]string, 0, len(v))
	for id := range v {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// settle reads c's messages into v until v matches the tracker's links for c.
func (h *harness) settle(c *Client, s SwarmKey, v view) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		want, err := h.tr.store.Neighbours(context.Background(), s, c.ID())
		if err != nil {
			h.t.Fatal(err)
		}
		if slices.Equal(want, v.ids()) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("peer %s: view %v, tracker links %v", c.ID(), v.ids(), want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		m, err := c.Recv(ctx)
		cancel()
		if err == nil {
			v.apply(m)
		}
	}
}

func (h *harness) streams(query string) []StreamStats {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + "/api/streams" + query)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /api/streams%s: %s", query, resp.Status)
	}
	var out []StreamStats
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
