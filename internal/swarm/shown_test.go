package swarm

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// TestWithholdingSeederDemoted: a peer that declares a huge upload is seeded first;
// it then shows none (its bytes_up stays 0) while the honest seeders' grows. After
// SeedGrace it loses its stripe, a non-seeder takes that very stripe in the same
// step (so the stripe is seeded again within one stats interval), every honest seat
// is kept, the assignment stays a partition, and the liar never seeds again.
func TestWithholdingSeederDemoted(t *testing.T) {
	w := newWorld(t, 1, Config{SeedGrace: 6 * time.Second})
	w.join("liar", "10.0.0.66", 1<<40)
	seated := w.now
	for i := range 9 {
		w.join(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.0.%d", i+1), int64(1_000_000*(i+1)))
	}
	if w.stripe["liar"].Count == 0 {
		t.Fatalf("the liar does not seed: %v", w.stripe)
	}
	liarStripe := w.stripe["liar"]
	honest := map[string]signalling.Stripe{}
	for id, s := range w.stripe {
		if id != "liar" && s.Count > 0 {
			honest[id] = s
		}
	}
	up := map[string]uint64{}
	var demotedAt time.Duration
	for round := 0; round < 10 && demotedAt == 0; round++ {
		w.now = w.now.Add(2 * time.Second) // every member reports every 2 s
		for id := range w.nbrs {
			if id != "liar" {
				up[id] += 100_000
			}
			w.stats(id, up[id])
			if w.stripe["liar"].Count == 0 && demotedAt == 0 {
				demotedAt = w.now.Sub(seated)
			}
		}
	}
	if demotedAt == 0 {
		t.Fatal("the withholding seeder kept its stripe")
	}
	if demotedAt < 6*time.Second {
		t.Fatalf("demoted %v after it was seated, before SeedGrace", demotedAt)
	}
	t.Logf("demoted %v after it was seated", demotedAt)
	for id, s := range honest {
		if w.stripe[id] != s {
			t.Errorf("honest seeder %s moved from %+v to %+v", id, s, w.stripe[id])
		}
	}
	heirs := 0
	for id, s := range w.stripe {
		if _, was := honest[id]; !was && id != "liar" && s == liarStripe {
			heirs++
		}
	}
	if heirs != 1 {
		t.Fatalf("%d new holders of the liar's stripe %+v, want 1: %v", heirs, liarStripe, w.stripe)
	}
	sw := w.c.lock(demo, false)
	checkPartition(t, sw.seeds.stripes())
	sw.mu.Unlock()
	// Joins that change SeedCount re-rank everyone: the liar stays out.
	for i := range 20 {
		w.join(fmt.Sprintf("q%d", i), fmt.Sprintf("10.0.1.%d", i+1), 500_000)
	}
	if w.stripe["liar"].Count != 0 {
		t.Fatalf("the demoted liar seeds again: %+v", w.stripe["liar"])
	}
}

// A seeder that sends no stats at all is demoted too (checked on others' stats);
// a seeder alone (no neighbours) is not; SeedGrace < 0 turns demotion off.
func TestSilentSeederDemoted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		members int
		want    bool
	}{
		{"silent", 6 * time.Second, 6, true},
		{"alone", 6 * time.Second, 1, false},
		{"off", -1, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 2, Config{SeedGrace: tc.grace})
			w.join("silent", "10.0.0.66", 1<<40)
			for i := range tc.members - 1 {
				w.join(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.0.%d", i+1), 1_000_000)
			}
			if w.stripe["silent"].Count == 0 {
				t.Fatal("not seeding to begin with")
			}
			up := uint64(0)
			for range 10 {
				w.now = w.now.Add(2 * time.Second)
				up += 1000
				for id := range w.nbrs {
					if id != "silent" {
						w.stats(id, up)
					}
				}
				if tc.members == 1 {
					w.stats("silent", 0)
				}
			}
			if got := w.stripe["silent"].Count == 0; got != tc.want {
				t.Fatalf("demoted = %v, want %v", got, tc.want)
			}
		})
	}
}

// stats delivers member id's stats at w.now (no tick: the test sets the clock).
func (w *world) stats(id string, bytesUp uint64) {
	w.deliver(w.c.Handle(w.now, demo, id, &signalling.Stats{BytesUp: bytesUp}))
}
