package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

// TestAddrLimitConnections: one address over its connection limit is refused with
// 429 and a reason before the upgrade; a viewer at another address joins and gets
// the flooder's peers as neighbours as usual; a closed connection gives its slot back.
func TestAddrLimitConnections(t *testing.T) {
	// Joins refill fast here: only the connection count is under test.
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 3, Refill: 30 * time.Millisecond}})
	j := Join{Stream: "demo", Rendition: "index"}
	var held []*Client
	for range 3 {
		held = append(held, h.dial(j, "203.0.113.1"))
	}
	_, err := h.dialErr(j, "203.0.113.1")
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("4th connection from one address: %v, want a 429 refusal", err)
	}
	good := h.dial(j, "198.51.100.7")
	if n := len(good.Welcome().Neighbours); n != 3 {
		t.Fatalf("good viewer got %d neighbours, want the 3 held peers", n)
	}
	if got := testutil.ToFloat64(h.tr.m.errors.WithLabelValues(CodeAddrLimit)); got != 1 {
		t.Fatalf("errors{addr_limit} = %v, want 1", got)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := h.dialErr(j, "203.0.113.1")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not given back after a close: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAddrLimitJoins: joins from one address beyond its burst are refused with
// error addr_limit (connections that closed after joining still spent their join).
func TestAddrLimitJoins(t *testing.T) {
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 4, Refill: time.Hour}})
	j := Join{Stream: "demo", Rendition: "index"}
	for range 4 {
		h.dial(j, "203.0.113.2").Close()
	}
	_, err := h.dialErr(j, "203.0.113.2")
	var e *Error
	if !errors.Is(err, ErrRejected) || !errors.As(err, &e) || e.Code != CodeAddrLimit || !strings.Contains(e.Message, "too many joins") {
		t.Fatalf("5th join: %v, want error %s", err, CodeAddrLimit)
	}
	h.dial(j, "203.0.113.3") // another address: unaffected
}

// TestAddrLimitRanges: a range with limit 0 (the operator's own load generator, a
// campus) is not limited, while the default still applies elsewhere.
func TestAddrLimitRanges(t *testing.T) {
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 1,
		Ranges: []quota.Range{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Limit: 0}}}})
	j := Join{Stream: "demo", Rendition: "index"}
	for range 20 {
		h.dial(j, "10.1.2.3")
	}
	h.dial(j, "192.0.2.1")
	if _, err := h.dialErr(j, "192.0.2.1"); err == nil {
		t.Fatal("second connection from a limited address accepted")
	}
}

// TestXFFOnlyFromTrustedProxies: X-Forwarded-For from a sender that is not a
// trusted proxy is ignored, so rotating it does not dodge the limit.
func TestXFFOnlyFromTrustedProxies(t *testing.T) {
	j := Join{Stream: "demo", Rendition: "index"}
	// The test client (127.0.0.1) is not a proxy: every connection is 127.0.0.1's.
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 2},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	h.dial(j, "203.0.113.10")
	h.dial(j, "203.0.113.11")
	if _, err := h.dialErr(j, "203.0.113.12"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("spoofed X-Forwarded-For dodged the limit: %v", err)
	}
	// The same client as a trusted proxy: each forwarded address is its own.
	h = newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 2},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	for _, a := range []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"} {
		c := h.dial(j, a)
		if len(c.Welcome().Neighbours) > 2 {
			t.Fatal("unexpected neighbours")
		}
	}
}

// TestAddrLimitAnnounce: /announce counts against the same per-address limit, and
// refuses with 429 and a reason.
func TestAddrLimitAnnounce(t *testing.T) {
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: 2}})
	h.dial(Join{Stream: "demo", Rendition: "index"}, "203.0.113.20")
	wtPeer(t, h, "203.0.113.20")
	url := strings.TrimSuffix(h.url, "/tracker") + "/announce"
	_, resp, err := websocket.Dial(ctxT(t), url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"203.0.113.20"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection (an announce) from one address: %v, want 429", err)
	}
	wtPeer(t, h, "203.0.113.21") // another address: unaffected
}

// TestUnjoinedConnectionTimesOut: a connection that answers pings but never joins
// is closed after PeerTimeout (so it cannot hold its address's slot for ever), while
// a joined peer that also only answers pings stays.
func TestUnjoinedConnectionTimesOut(t *testing.T) {
	// 1 s, not less: a loaded CI machine can delay a joined client's pong by
	// a few hundred ms, which must not count as a timeout.
	h := newHarness(t, Config{PeerTimeout: time.Second})
	joined := h.dial(Join{Stream: "demo", Rendition: "index"}, "198.51.100.1")
	r := h.raw()
	start := time.Now()
	r.expectError(CodeTimeout) // reading also answers the tracker's pings
	if _, err := r.next(); err == nil {
		t.Fatal("connection still open after the timeout error")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v, PeerTimeout 1s", d)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := joined.Send(ctxT(t), &Stats{BytesCDN: 1}); err != nil {
		t.Fatalf("joined peer was dropped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := joined.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("joined peer: Recv = %v, want nothing (still connected)", err)
	}
}

// TestAnnounceSilentSocketTimesOut: the same rule on /announce: a WebTorrent socket
// that never announces gets a failure and is closed after PeerTimeout.
func TestAnnounceSilentSocketTimesOut(t *testing.T) {
	h := newHarness(t, Config{PeerTimeout: 300 * time.Millisecond})
	ws := wtPeer(t, h, "203.0.113.30")
	m := wtRecv(t, ws, 3*time.Second)
	f, ok := m.(*webtorrent.Failure)
	if !ok || !strings.Contains(f.Reason, "no announce within") {
		t.Fatalf("got %#v, want a failure naming the timeout", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := ws.Read(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("socket still open after the failure: %v", err)
	}
}
