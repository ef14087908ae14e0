package peer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// stepClock is a clock the test moves by hand (only Now is used by cdn).
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *stepClock) AfterFunc(d time.Duration, f func()) transport.Timer { return time.AfterFunc(d, f) }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestCDNFailover: a 5xx or a dead edge moves requests to the next edge at once
// (the failed request is retried there); a 404 does not; after primaryRetry the
// first edge is tried again and kept once it answers.
func TestCDNFailover(t *testing.T) {
	var down atomic.Bool
	var hits [2]atomic.Int64
	mk := func(i int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			switch {
			case i == 0 && down.Load():
				http.Error(w, "edge: origin unreachable", http.StatusBadGateway)
			case r.URL.Path == "/live/demo/missing":
				http.NotFound(w, r)
			default:
				w.Write([]byte("ok"))
			}
		}))
	}
	a, b := mk(0), mk(1)
	defer a.Close()
	defer b.Close()
	clk := &stepClock{now: time.Unix(1e9, 0)}
	c := &cdn{bases: []string{a.URL, b.URL}, stream: "demo", client: http.DefaultClient, clk: clk}
	ctx := context.Background()
	get := func(p string) error {
		_, err := c.get(ctx, p, 1<<10, false)
		return err
	}
	if err := get("x"); err != nil || hits[0].Load() != 1 {
		t.Fatalf("first edge: %v, hits %d", err, hits[0].Load())
	}
	if err := get("missing"); err == nil || c.cur.Load() != 0 {
		t.Fatalf("a 404 moved the peer (cur %d) or passed: %v", c.cur.Load(), err)
	}
	down.Store(true)
	if err := get("x"); err != nil {
		t.Fatalf("the 502 was not retried on the second edge: %v", err)
	}
	if c.cur.Load() != 1 || hits[1].Load() != 1 {
		t.Fatalf("after a 502: cur %d, second edge hits %d", c.cur.Load(), hits[1].Load())
	}
	before := hits[0].Load()
	get("x")
	if hits[0].Load() != before {
		t.Fatal("the failed edge was asked again before primaryRetry")
	}
	down.Store(false)
	clk.add(primaryRetry + time.Second)
	if err := get("x"); err != nil || c.cur.Load() != 0 || hits[0].Load() != before+1 {
		t.Fatalf("after primaryRetry: %v, cur %d, first edge hits %d", err, c.cur.Load(), hits[0].Load())
	}
	// A dead edge (connection refused) moves the peer the same way.
	a.Close()
	if err := get("x"); err != nil || c.cur.Load() != 1 {
		t.Fatalf("dead first edge: %v, cur %d", err, c.cur.Load())
	}
	if c.switches.Load() != 2 {
		t.Fatalf("switches %d, want 2", c.switches.Load())
	}
}

// TestCDNAddedEdge: an edge learnt later (the tracker's welcome) is a failover
// target: with the only configured edge dead, requests move to it; duplicates and
// edges beyond maxEdges are not added.
func TestCDNAddedEdge(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer live.Close()
	c := &cdn{bases: []string{dead.URL}, stream: "demo", client: http.DefaultClient, clk: &stepClock{now: time.Unix(1e9, 0)}}
	if _, err := c.get(context.Background(), "index.m3u8", 1<<10, false); err == nil {
		t.Fatal("a dead edge answered")
	}
	c.add([]string{live.URL + "/", dead.URL})
	if b, err := c.get(context.Background(), "index.m3u8", 1<<10, false); err != nil || string(b) != "ok" {
		t.Fatalf("with the welcome's edge: %q, %v", b, err)
	}
	for i := range 2 * maxEdges {
		c.add([]string{fmt.Sprintf("http://192.0.2.%d", i)})
	}
	if _, n := c.base(0); n != maxEdges {
		t.Errorf("%d edges known, want at most %d", n, maxEdges)
	}
}
