package tracker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestLeaveTellsNeighboursAndReplaces(t *testing.T) {
	// Limit 2 → each joiner links to one open peer, so a chain forms and a leave leaves
	// a neighbour with a free slot that the tracker refills.
	h := newHarness(t, Config{MaxNeighbours: 2})
	a := h.dial(join(demo), "10.0.0.1")
	b := h.dial(join(demo), "10.0.1.1")
	va, vb := newView(a.Welcome()), newView(b.Welcome())
	h.settle(a, demo, va)
	c := h.dial(join(demo), "10.0.2.1")
	vc := newView(c.Welcome())
	for _, p := range []struct {
		c *Client
		v view
	}{{a, va}, {b, vb}, {c, vc}} {
		h.settle(p.c, demo, p.v)
	}
	// Whoever c linked to, make its neighbour leave: c must be told and, since an open
	// peer remains, get a replacement.
	leaver := c.Welcome().Neighbours[0].PeerID
	var gone, stay *Client
	var vstay view
	if leaver == a.ID() {
		gone, stay, vstay = a, b, vb
	} else {
		gone, stay, vstay = b, a, va
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	for { // a replacement "add" may come before the "remove"
		n := recvAs[*Neighbours](t, c)
		vc.apply(n)
		if slices.Contains(n.Remove, gone.ID()) {
			break
		}
	}
	h.settle(c, demo, vc)
	h.settle(stay, demo, vstay)
	if _, ok := vc[stay.ID()]; !ok {
		t.Fatalf("c not re-linked to the remaining peer: %v", vc.ids())
	}
	if vc[stay.ID()] == vstay[c.ID()] {
		t.Fatal("both sides of a replacement link got the same initiator flag")
	}
	if got := h.streams(""); len(got) != 1 || got[0].Peers != 2 {
		t.Fatalf("streams after leave %+v", got)
	}
}

func TestTimeoutDropsSilentPeer(t *testing.T) {
	h := newHarness(t, Config{PeerTimeout: 600 * time.Millisecond})
	a := h.dial(join(demo), "10.0.0.1")
	// A raw client that joins and then never reads, so it never answers pings.
	ctx := ctxT(t)
	ws, _, err := websocket.Dial(ctx, h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	b, _ := Encode(&Join{Stream: "demo", Rendition: "index"})
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, b, err = ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeServer(b)
	if err != nil {
		t.Fatal(err)
	}
	silent := m.(*Welcome).PeerID
	add := recvAs[*Neighbours](t, a)
	if add.Add[0].PeerID != silent {
		t.Fatalf("a got %+v", add)
	}
	start := time.Now()
	rm := recvAs[*Neighbours](t, a)
	if !slices.Equal(rm.Remove, []string{silent}) {
		t.Fatalf("a got %+v, want remove of the silent peer", rm)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("silent peer dropped after %v, before the timeout", waited)
	}
	// a answers pings through its reader, so it stays.
	time.Sleep(time.Second)
	if got := h.streams(""); len(got) != 1 || got[0].Peers != 1 {
		t.Fatalf("streams %+v, want only a", got)
	}
}

func TestEmptySwarmCollected(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	h := newHarness(t, Config{EmptySwarmTTL: time.Minute, Now: clock})
	a := h.dial(join(demo), "10.0.0.1")
	a.Close()
	eventually(t, "peer gone", func() bool { s := h.streams(""); return len(s) == 1 && s[0].Peers == 0 })
	ctx := context.Background()
	if err := h.tr.store.Collect(ctx, now.Add(30*time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := h.streams(""); len(s) != 1 {
		t.Fatalf("swarm dropped before its TTL: %+v", s)
	}
	if err := h.tr.store.Collect(ctx, now.Add(61*time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := h.streams(""); len(s) != 0 {
		t.Fatalf("empty swarm kept: %+v", s)
	}
}

func TestSetPolicyPushes(t *testing.T) {
	h := newHarness(t, Config{MaxNeighbours: 6})
	lo, hi, other := demo, SwarmKey{Stream: "demo", Rendition: "hi"}, SwarmKey{Stream: "other", Rendition: "index"}
	var peers []*Client
	var views []view
	keys := []SwarmKey{lo, lo, lo, hi, hi}
	for i, k := range keys {
		c := h.dial(join(k), fmt.Sprintf("10.0.%d.1", i))
		peers, views = append(peers, c), append(views, newView(c.Welcome()))
	}
	o := h.dial(join(other), "10.9.0.1")
	for i, c := range peers {
		h.settle(c, keys[i], views[i])
	}

	off := Policy{P2PEnabled: false, MaxUpload: 2e6, Neighbours: 3}
	h.tr.SetPolicy("demo", off)
	for i, c := range peers {
		p := recvAs[*Policy](t, c)
		if *p != off {
			t.Fatalf("peer %d got policy %+v, want %+v", i, *p, off)
		}
		h.settle(c, keys[i], views[i])
		if len(views[i]) != 0 {
			t.Fatalf("peer %d still has neighbours %v with P2P off", i, views[i].ids())
		}
	}
	expectNothing(t, o, 200*time.Millisecond, func(m Message) bool { _, ok := m.(*Policy); return ok })
	late := h.dial(join(lo), "10.0.9.1")
	if late.Welcome().Policy != off || len(late.Welcome().Neighbours) != 0 {
		t.Fatalf("late joiner welcome %+v", late.Welcome())
	}
	peers, views, keys = append(peers, late), append(views, view{}), append(keys, lo)

	// Back on, bound 2 (clamped to MaxNeighbours when larger): links come back, within it.
	on := Policy{P2PEnabled: true, Neighbours: 2}
	h.tr.SetPolicy("demo", on)
	for i, c := range peers {
		if p := recvAs[*Policy](t, c); *p != on {
			t.Fatalf("peer %d got %+v", i, *p)
		}
	}
	for i, c := range peers {
		h.settle(c, keys[i], views[i])
		if len(views[i]) == 0 || len(views[i]) > 2 {
			t.Fatalf("peer %d has %d neighbours under bound 2", i, len(views[i]))
		}
	}
	h.tr.SetPolicy("demo", Policy{P2PEnabled: true, Neighbours: 99})
	if p := recvAs[*Policy](t, peers[0]); p.Neighbours != 6 {
		t.Fatalf("bound above MaxNeighbours not clamped: %+v", p)
	}
}
