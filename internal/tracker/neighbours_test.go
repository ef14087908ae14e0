package tracker

import (
	"context"
	"fmt"
	"testing"
)

// TestNeighbourChoiceSwarm joins a real swarm with mixed capacities and regions and
// checks the resulting graph: bounds hold, clients' views match the tracker, strong
// peers carry more links, peers are not left with only weak neighbours, and locality wins.
func TestNeighbourChoiceSwarm(t *testing.T) {
	const bound = 6
	h := newHarness(t, Config{MaxNeighbours: bound})
	type member struct {
		c      *Client
		v      view
		strong bool
		region string
	}
	var ms []*member
	for i := range 40 {
		strong := i%2 == 0
		j := join(demo)
		j.UploadCapacity = 1e6
		if strong {
			j.UploadCapacity = 20e6
		}
		j.Region = []string{"eu", "us"}[i/20] // first half eu, second half us
		c := h.dial(j, fmt.Sprintf("10.%d.%d.1", i/100, i))
		ms = append(ms, &member{c: c, v: newView(c.Welcome()), strong: strong, region: j.Region})
	}
	byID := map[string]*member{}
	for _, m := range ms {
		h.settle(m.c, demo, m.v)
		byID[m.c.ID()] = m
	}
	var degStrong, degWeak, nStrong, nWeak, onlyWeak, crossRegion, links int
	for _, m := range ms {
		p, err := h.tr.store.Peer(context.Background(), demo, m.c.ID())
		if err != nil {
			t.Fatal(err)
		}
		if p.Degree > p.Limit || p.Limit > bound {
			t.Fatalf("peer degree %d, limit %d, bound %d", p.Degree, p.Limit, bound)
		}
		if p.Degree == 0 {
			t.Fatalf("peer %s isolated", p.ID)
		}
		hasStrong := false
		for id, init := range m.v {
			n := byID[id]
			hasStrong = hasStrong || n.strong
			if n.v[m.c.ID()] == init {
				t.Fatalf("link %s–%s: both initiator=%v", m.c.ID(), id, init)
			}
			if n.region != m.region {
				crossRegion++
			}
			links++
		}
		if !hasStrong {
			onlyWeak++
		}
		if m.strong {
			degStrong, nStrong = degStrong+p.Degree, nStrong+1
		} else {
			degWeak, nWeak = degWeak+p.Degree, nWeak+1
		}
	}
	t.Logf("strong %d links/%d peers, weak %d/%d, only-weak %d, cross-region ends %d/%d",
		degStrong, nStrong, degWeak, nWeak, onlyWeak, crossRegion, links)
	if float64(degStrong)/float64(nStrong) <= float64(degWeak)/float64(nWeak) {
		t.Fatalf("strong peers average %d/%d links, weak %d/%d: strong should carry more", degStrong, nStrong, degWeak, nWeak)
	}
	if onlyWeak > len(ms)/10 {
		t.Fatalf("%d of %d peers have only weak neighbours", onlyWeak, len(ms))
	}
	// Only the first us joiner can have to reach across (it found no us peer open).
	if crossRegion > 2*bound {
		t.Fatalf("%d of %d link ends cross regions", crossRegion, links)
	}
}

// TestNeighboursByPosition: viewers of a title join at positions over ten minutes
// through real WebSockets; a viewer joining at 300 s is introduced first to the
// viewers playing near it, and the tracker kept each join's position.
func TestNeighboursByPosition(t *testing.T) {
	h := newHarness(t, Config{MaxNeighbours: 12}) // a joiner takes 6
	title := SwarmKey{Stream: "film", Rendition: "index"}
	at := func(pos float64) Join {
		j := join(title)
		j.Position = &pos
		return j
	}
	var positions []float64
	for i := range 24 { // 0–230 s and 400–630 s, then four near 300 s
		positions = append(positions, float64(i%12)*20+float64(i/12)*400)
	}
	positions = append(positions, 280, 300, 310, 330)
	near := map[string]bool{}
	for i, pos := range positions {
		c := h.dial(at(pos), fmt.Sprintf("10.0.%d.1", i))
		if pos >= 280 && pos <= 330 {
			near[c.ID()] = true
		}
	}
	c := h.dial(at(300), "10.0.200.1")
	me, err := h.tr.store.Peer(context.Background(), title, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if me.PosAt.IsZero() || me.Pos != 300 {
		t.Fatalf("the tracker kept position %v at %v, want 300", me.Pos, me.PosAt)
	}
	got := 0
	for _, n := range c.Welcome().Neighbours {
		if near[n.PeerID] {
			got++
		}
	}
	if len(c.Welcome().Neighbours) != 6 || got != len(near) {
		t.Fatalf("%d neighbours, %d of the %d playing near 300 s; want 6 with all of them", len(c.Welcome().Neighbours), got, len(near))
	}
}
