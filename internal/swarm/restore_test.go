package swarm

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// TestRestoreSettle: a swarm's owner dies with three of its nine members (the ones
// its node held). A fresh core restores the six others from their own pictures
// (neighbours, stripe), then settles: every picture matches the new store, nobody
// keeps a neighbour that is gone, links among survivors are kept, the stripes cover
// SeedCount(6) with one seeder each, and surviving seeders keep their index.
func TestRestoreSettle(t *testing.T) {
	a := newWorld(t, 1, Config{})
	for i := range 9 {
		a.join(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.1", i), int64(10+i)*1e6)
	}
	a.check()
	dead := map[string]bool{"p8": true, "p5": true, "p1": true} // p8 is the strongest: a seeder
	b := newWorld(t, 2, Config{})
	var restored []Restored
	for id, nbrs := range a.nbrs {
		if dead[id] {
			continue
		}
		rec, err := a.c.Store().Peer(a.c.ctx, demo, id)
		if err != nil {
			t.Fatal(err)
		}
		restored = append(restored, Restored{Peer: rec, Neighbours: slices.Sorted(maps.Keys(nbrs)), Stripe: a.stripe[id]})
		b.nbrs[id] = maps.Clone(nbrs)
		b.stripe[id], b.policy[id] = a.stripe[id], a.policy[id]
	}
	slices.SortFunc(restored, func(x, y Restored) int { return strings.Compare(x.Peer.ID, y.Peer.ID) })
	// Two restores, as from two holders: links across them are made once both claim.
	if err := b.c.Restore(b.tick(), demo, restored[:3]); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Restore(b.tick(), demo, restored[3:]); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Restore(b.tick(), demo, restored[:1]); err != nil { // a repeat is a no-op
		t.Fatal(err)
	}
	kept := 0
	for _, r := range restored {
		for _, n := range r.Neighbours {
			if dead[n] {
				continue
			}
			if ok, _ := b.c.Store().Linked(b.c.ctx, demo, r.Peer.ID, n); !ok {
				t.Fatalf("link %s–%s between survivors not restored", r.Peer.ID, n)
			}
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("no link between survivors: the test proves nothing")
	}
	b.deliver(b.c.Settle(b.tick(), demo))
	b.check()
	for id, nbrs := range b.nbrs {
		for n := range nbrs {
			if dead[n] {
				t.Errorf("%s still has %s, which died", id, n)
			}
		}
	}
	seeds := b.seeders()
	want := SeedCount(6)
	used := map[int]string{}
	for id, s := range seeds {
		if s.Count != want {
			t.Errorf("%s seeds %+v, want one of %d", id, s, want)
		}
		if other, ok := used[s.Index]; ok {
			t.Errorf("stripe %d seeded by %s and %s", s.Index, id, other)
		}
		used[s.Index] = id
		if old := a.stripe[id]; old.Count == want && old != s {
			t.Errorf("%s seeded %+v before, %+v after: a staying seeder must keep its index", id, old, s)
		}
	}
	if len(used) != want {
		t.Errorf("stripes %v, want %d covered", used, want)
	}
	// The restored swarm goes on: a newcomer is linked and the next leave is ordinary.
	b.join("q", "10.0.20.1", 5e6)
	b.leave("p7")
	b.check()
}

// TestRestoredSeederLeavesBeforeSettle: a restored seeder that leaves before Settle
// (a viewer gone within the settle delay of a takeover) is removed without a panic,
// and the swarm still settles with stripes for the one who stayed.
func TestRestoredSeederLeavesBeforeSettle(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rs := []Restored{
		{Peer: Peer{ID: "s1", Addr: "10.0.0.1", UploadCapacity: 50e6, Limit: 10}, Stripe: signalling.Stripe{Index: 0, Count: 1}},
		{Peer: Peer{ID: "s2", Addr: "10.0.1.1", UploadCapacity: 40e6, Limit: 10}},
	}
	if err := c.Restore(time.Now(), demo, rs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leave(time.Now(), demo, "s1"); err != nil {
		t.Fatal(err)
	}
	c.Settle(time.Now(), demo)
	if m := c.Members(demo); m != 1 {
		t.Fatalf("%d members after the seeder left, want 1", m)
	}
}
