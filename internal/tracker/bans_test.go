package tracker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func report(t *testing.T, from *Client, target string) {
	t.Helper()
	if err := from.Send(ctxT(t), &Report{Peer: target, Segment: "mabc-41", Piece: 3, Reason: "hash_mismatch"}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) reports(outcome swarm.Outcome) float64 {
	return testutil.ToFloat64(h.tr.m.reports.WithLabelValues(string(outcome)))
}

func (h *harness) waitReports(outcome swarm.Outcome, n float64) {
	h.t.Helper()
	eventually(h.t, string(outcome)+" reports", func() bool { return h.reports(outcome) >= n })
}

func isBanned(m Message) bool { _, ok := m.(*Banned); return ok }

func TestBanNeedsTwoDistinctReporters(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	h := newHarness(t, Config{BanDuration: time.Hour, Now: clock.now})
	bad := h.dial(join(demo), "10.0.0.1")
	r1 := h.dial(join(demo), "10.0.1.1")
	r1twin := h.dial(join(demo), "10.0.1.1") // same address, another id
	r2 := h.dial(join(demo), "10.0.2.1")
	other := h.dial(join(SwarmKey{Stream: "demo", Rendition: "hi"}), "10.0.3.1")

	// Two reports from one address (two ids) are one reporter. (A third would mute the
	// address: every report is a strike until a ban corroborates it.)
	report(t, r1, bad.ID())
	report(t, r1twin, bad.ID())
	h.waitReports(swarm.OutcomeAccepted, 2)
	expectNothing(t, bad, 200*time.Millisecond, isBanned)

	report(t, other, bad.ID()) // not in other's swarm
	if e := recvAs[*Error](t, other); e.Code != CodeUnknownPeer {
		t.Fatalf("cross-swarm report: %+v", e)
	}

	report(t, r2, bad.ID())
	if b := recvAs[*Banned](t, bad); b.Reason == "" {
		t.Fatal("banned without reason")
	}
	closed(t, bad)
	for _, c := range []*Client{r1, r1twin, r2} {
		for {
			if n := recvAs[*Neighbours](t, c); len(n.Remove) == 1 && n.Remove[0] == bad.ID() {
				break
			}
		}
	}
	if got := testutil.ToFloat64(h.tr.m.bans); got != 1 {
		t.Fatalf("bans_total %v", got)
	}
	// Corroborated reporters keep their right to report.
	for _, addr := range []string{"10.0.1.1", "10.0.2.1"} {
		if n, _ := h.tr.store.AddStrikes(context.Background(), demo, addr, 0, clock.now(), time.Hour); n != 0 {
			t.Fatalf("%s keeps %d strikes after corroboration", addr, n)
		}
	}
	// The address cannot rejoin this swarm; other addresses and other swarms are fine.
	_, err := h.dialErr(join(demo), "10.0.0.1")
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("banned address rejoined: %v", err)
	}
	h.dial(join(demo), "10.0.0.2")
	h.dial(join(SwarmKey{Stream: "demo", Rendition: "hi"}), "10.0.0.1")
	clock.add(time.Hour + time.Second)
	h.dial(join(demo), "10.0.0.1") // ban period over
}

func TestLoneLiarCannotBan(t *testing.T) {
	h := newHarness(t, Config{MaxStrikes: 3})
	honest := h.dial(join(demo), "10.0.0.1")
	liar := h.dial(join(demo), "10.0.1.1")
	witness := h.dial(join(demo), "10.0.2.1")

	for range 6 {
		report(t, liar, honest.ID())
	}
	h.waitReports(swarm.OutcomeAccepted, 3)
	h.waitReports(swarm.OutcomeMuted, 3)

	// A new identity from the same address stays muted.
	liar.Close()
	liar2 := h.dial(join(demo), "10.0.1.1")
	report(t, liar2, honest.ID())
	h.waitReports(swarm.OutcomeMuted, 4)

	// One more genuine-looking report does not combine with the muted liar's.
	report(t, witness, honest.ID())
	h.waitReports(swarm.OutcomeAccepted, 4)
	expectNothing(t, honest, 300*time.Millisecond, isBanned)
	if got := testutil.ToFloat64(h.tr.m.bans); got != 0 {
		t.Fatalf("bans_total %v", got)
	}
	if _, err := h.tr.store.Peer(context.Background(), demo, honest.ID()); err != nil {
		t.Fatalf("honest peer gone: %v", err)
	}
}

func TestReportNeedsNeighbour(t *testing.T) {
	h := newHarness(t, Config{MaxNeighbours: 2})
	a := h.dial(join(demo), "10.0.0.1")
	b := h.dial(join(demo), "10.0.1.1")
	c := h.dial(join(demo), "10.0.2.1")
	stranger := a
	if c.Welcome().Neighbours[0].PeerID == a.ID() {
		stranger = b
	}
	report(t, c, stranger.ID())
	if e := recvAs[*Error](t, c); e.Code != CodeNotNeighbour {
		t.Fatalf("report on a stranger: %+v", e)
	}
	report(t, c, c.ID())
	if e := recvAs[*Error](t, c); e.Code != CodeBadMessage {
		t.Fatalf("self report: %+v", e)
	}
	if got := h.reports(swarm.OutcomeNotNeighbour); got != 1 {
		t.Fatalf("reports_total{not_neighbour} %v", got)
	}
}
