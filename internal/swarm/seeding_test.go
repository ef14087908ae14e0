package swarm

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// checkPartition fails unless assignment is a replicated partition: one Count shared by
// all, min(seeders, MaxStripes), every index 0..Count-1 held, by as many seeders each
// as the others within one.
func checkPartition(t *testing.T, assignment map[string]signalling.Stripe) {
	t.Helper()
	if err := partition(assignment); err != nil {
		t.Fatal(err)
	}
}

func partition(assignment map[string]signalling.Stripe) error {
	count := stripeCount(len(assignment))
	held := make([]int, count)
	for id, s := range assignment {
		if s.Count != count || s.Index < 0 || s.Index >= s.Count {
			return fmt.Errorf("%s has %+v in %v", id, s, assignment)
		}
		held[s.Index]++
	}
	if len(held) > 0 && slices.Max(held)-slices.Min(held) > 1 {
		return fmt.Errorf("stripes held %v times: unbalanced", held)
	}
	return nil
}

func (sd *seeding) stripes() map[string]signalling.Stripe {
	out := make(map[string]signalling.Stripe, len(sd.seeders))
	for id, s := range sd.seeders {
		out[id] = s.Stripe
	}
	return out
}

// TestSeedingMatchesRule drives one swarm's seeding through random joins and leaves
// (capacities with ties and zeros) and checks after every step that the seeders and
// Count are exactly AssignStripes' over all members, the indices a partition, the
// reported changes exactly the differences, and that the full member list is only
// consulted when SeedCount changes.
func TestSeedingMatchesRule(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	sd := &seeding{}
	members := map[string]float64{}
	all := func() []Candidate {
		out := make([]Candidate, 0, len(members))
		for id, up := range members {
			out = append(out, Candidate{ID: id, Upload: up})
		}
		return out
	}
	var full, expectFull int
	counted := func() []Candidate { full++; return all() }
	prev := map[string]signalling.Stripe{}
	for step := range 3000 {
		k := SeedCount(len(members))
		var changed map[string]signalling.Stripe
		var gone string
		if len(members) == 0 || rnd.IntN(10) < 6 {
			id := fmt.Sprintf("p%d", step)
			up := float64(rnd.IntN(6)) * 1e6 // ties and zeros on purpose
			members[id] = up
			if SeedCount(len(members)) != k {
				expectFull++
			}
			changed = sd.joined(Candidate{ID: id, Upload: up}, len(members), counted)
		} else {
			ids := slices.Sorted(maps.Keys(members))
			gone = ids[rnd.IntN(len(ids))]
			delete(members, gone)
			if SeedCount(len(members)) != k {
				expectFull++
			}
			changed = sd.left(gone, len(members), counted)
		}
		got := sd.stripes()
		want := AssignStripes(all(), SeedCount(len(members)))
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Fatalf("step %d: seeders %v, rule chose %v", step, got, want)
		}
		checkPartition(t, got)
		for id := range members {
			if got[id] != prev[id] {
				if c, ok := changed[id]; !ok || c != got[id] {
					t.Fatalf("step %d: %s went %+v → %+v, reported %+v %v", step, id, prev[id], got[id], c, ok)
				}
			} else if _, ok := changed[id]; ok {
				t.Fatalf("step %d: unchanged %s reported as changed", step, id)
			}
		}
		if _, ok := changed[gone]; gone != "" && ok {
			t.Fatalf("step %d: the peer that left was sent a change", step)
		}
		if full != expectFull {
			t.Fatalf("step %d: %d full recomputations, want %d", step, full, expectFull)
		}
		prev = got
	}
	if len(members) < 100 {
		t.Fatalf("swarm stayed small (%d): the walk did not exercise SeedCount changes", len(members))
	}
}

// TestSeedingKeepsIndices: with Count unchanged, stayers keep their stripe, so a
// seeder leaving or being outranked moves exactly one stripe.
func TestSeedingKeepsIndices(t *testing.T) {
	cands := func(ups ...float64) []Candidate {
		out := make([]Candidate, len(ups))
		for i, up := range ups {
			out[i] = Candidate{ID: fmt.Sprintf("p%d", i), Upload: up}
		}
		return out
	}
	// 20 members, 3 stripes: p0..p2 are the strongest.
	ups := []float64{9e6, 8e6, 7e6, 6e6}
	for len(ups) < 20 {
		ups = append(ups, 1e6)
	}
	members := cands(ups...)
	all := func() []Candidate { return members }
	sd := &seeding{}
	sd.reset(members, SeedCount(20))
	before := sd.stripes()
	if len(before) != 3 {
		t.Fatalf("seeders %v", before)
	}

	// p1 (a seeder, not the last ranked) leaves: p3 takes exactly p1's stripe.
	members = slices.DeleteFunc(members, func(c Candidate) bool { return c.ID == "p1" })
	changed := sd.left("p1", len(members), all)
	if want := map[string]signalling.Stripe{"p3": before["p1"]}; !maps.Equal(changed, want) {
		t.Fatalf("seeder left: changes %v, want %v", changed, want)
	}

	// A stronger newcomer outranks the weakest seeder (p3) and takes its stripe.
	after := sd.stripes()
	members = append(members, Candidate{ID: "strong", Upload: 1e9})
	changed = sd.joined(members[len(members)-1], len(members), all)
	if want := map[string]signalling.Stripe{"strong": after["p3"], "p3": {}}; !maps.Equal(changed, want) {
		t.Fatalf("strong join: changes %v, want %v", changed, want)
	}

	// A weak or zero-upload newcomer changes nothing.
	for _, up := range []float64{0, 1e6} {
		members = append(members, Candidate{ID: fmt.Sprintf("weak%v", up), Upload: up})
		if changed := sd.joined(members[len(members)-1], len(members), all); len(changed) != 0 {
			t.Fatalf("weak join (%v) changed %v", up, changed)
		}
	}
}
