package swarm

import (
	"fmt"
	"maps"
	"testing"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// TestRepositionAfterSeek: a title's viewer that seeks from 5 s to 555 s is linked to
// viewers playing near 555 s in place of those near 5 s (whose links are removed on
// both sides and who refill), while stats that only follow the clock change nothing.
func TestRepositionAfterSeek(t *testing.T) {
	w := newWorld(t, 7, Config{MaxNeighbours: 6, SeedGrace: -1}) // a joiner takes 3; no seeder shows upload here
	at0 := map[string]float64{}                                  // position at t0, as the clock moves it
	joinAt := func(id string, p float64) {
		now := w.tick()
		if _, err := w.joinAt(now, Peer{ID: id, Addr: "10.9.0.1", UploadCapacity: 1e6, Pos: p, PosAt: now}); err != nil {
			t.Fatal(err)
		}
		at0[id] = p - now.Sub(t0).Seconds()
	}
	near := func(at float64) (n int) {
		for id := range w.nbrs["m"] {
			if d := at0[id] + w.now.Sub(t0).Seconds() - at; d > -30 && d < 60 {
				n++
			}
		}
		return n
	}
	for i := range 4 {
		joinAt(fmt.Sprintf("b%d", i), 500+float64(i)*10) // 500–530 s
	}
	for i := range 8 {
		joinAt(fmt.Sprintf("a%d", i), float64(i)*10) // 0–70 s
	}
	joinAt("m", 5)
	for i := range 4 {
		joinAt(fmt.Sprintf("c%d", i), 5) // they fill m's slots
	}
	w.check()
	here := at0["m"] + w.now.Sub(t0).Seconds()
	if len(w.nbrs["m"]) != 6 || near(here) < 4 {
		t.Fatalf("before the seek m has %d neighbours, %d near %v s", len(w.nbrs["m"]), near(here), here)
	}
	// Drift: 3 s off the clock's position.
	if outs := w.handle("m", &signalling.Stats{Position: ptr(here + 4)}); len(outs) != 0 {
		t.Fatalf("stats 3 s off the clock re-linked: %v", outs)
	}
	old := maps.Clone(w.nbrs["m"])
	outs := w.handle("m", &signalling.Stats{Position: ptr(555)})
	w.check()
	if len(outs) == 0 {
		t.Fatal("a seek of 550 s changed no links")
	}
	if got := near(555); got < 2 || len(w.nbrs["m"]) > 6 {
		t.Fatalf("after the seek %d of %d neighbours play near 555 s: %v", got, len(w.nbrs["m"]), w.nbrs["m"])
	}
	dropped := 0
	for id := range old {
		if _, kept := w.nbrs["m"][id]; !kept {
			dropped++
			if _, sees := w.nbrs[id]["m"]; sees {
				t.Fatalf("%s still sees m", id)
			}
		}
	}
	if dropped == 0 {
		t.Fatal("m was full and dropped no far neighbour")
	}
	p, err := w.c.Store().Peer(w.c.ctx, demo, "m")
	if err != nil || p.Pos != 555 || !p.PosAt.Equal(w.now) {
		t.Fatalf("stored position %+v, %v", p, err)
	}
}

func ptr(f float64) *float64 { return &f }
