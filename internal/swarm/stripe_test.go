package swarm

import (
	"slices"
	"testing"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

func TestAssignStripes(t *testing.T) {
	cands := []Candidate{{"a", 100}, {"b", 0}, {"c", 300}, {"d", 200}, {"e", -1}}
	tests := []struct {
		k    int
		want map[string]signalling.Stripe
	}{
		{2, map[string]signalling.Stripe{"c": {Index: 0, Count: 2}, "d": {Index: 1, Count: 2}}},
		{3, map[string]signalling.Stripe{"c": {Index: 0, Count: 3}, "d": {Index: 1, Count: 3}, "a": {Index: 2, Count: 3}}},
		{10, map[string]signalling.Stripe{"c": {Index: 0, Count: 3}, "d": {Index: 1, Count: 3}, "a": {Index: 2, Count: 3}}}, // only 3 can upload
		{0, map[string]signalling.Stripe{}},
	}
	for _, tt := range tests {
		got := AssignStripes(cands, tt.k)
		if len(got) != len(tt.want) {
			t.Fatalf("k=%d: %v, want %v", tt.k, got, tt.want)
		}
		for id, s := range tt.want {
			if got[id] != s {
				t.Errorf("k=%d: %s → %v, want %v", tt.k, id, got[id], s)
			}
		}
	}
	// Deterministic under reordering.
	rev := slices.Clone(cands)
	slices.Reverse(rev)
	eq := []Candidate{{"x", 1}, {"y", 1}, {"z", 1}}
	a, b := AssignStripes(eq, 2), AssignStripes([]Candidate{eq[2], eq[0], eq[1]}, 2)
	for id := range a {
		if a[id] != b[id] {
			t.Fatalf("order-dependent: %v vs %v", a, b)
		}
	}
}

// TestSeedCount: one seeder per ~8 peers in small swarms; above 2 × seedGroup,
// 32 stripes with about one seeded copy per seedGroup peers (never fewer, at
// most 12.5% more), changing only a few times per doubling.
func TestSeedCount(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 2: 2, 10: 2, 17: 3, 100: 13, 128: 16} {
		if got := SeedCount(n); got != want {
			t.Errorf("SeedCount(%d) = %d, want %d", n, got, want)
		}
	}
	changes, last := 0, 0
	for n := 2*seedGroup + 1; n <= 1<<20; n++ {
		k := SeedCount(n)
		r := k / MaxStripes
		if k%MaxStripes != 0 || r*seedGroup < n || float64(r) > 1.125*float64((n+seedGroup-1)/seedGroup)+1 {
			t.Fatalf("SeedCount(%d) = %d: %d per stripe for %d peers", n, k, r, n)
		}
		if k < last {
			t.Fatalf("SeedCount(%d) = %d fell from %d", n, k, last)
		}
		if k != last {
			changes++
		}
		last = k
	}
	if changes > 8*14 {
		t.Errorf("SeedCount changed %d times up to 2^20 peers: too many re-rankings", changes)
	}
}
