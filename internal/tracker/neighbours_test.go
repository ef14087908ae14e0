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
