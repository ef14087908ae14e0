package scheduler

import (
	"math/rand/v2"
	"testing"
)

// Haves answers as a map would, whatever the order of Sets and Deletes.
func TestHavesAsMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Haves
	m := map[uint64]Bitfield{}
	for n := range 5000 {
		seq := uint64(rng.IntN(40))
		switch rng.IntN(3) {
		case 0, 1:
			b := NewBitfield(n%100 + 1)
			h.Set(seq, b)
			m[seq] = b
		case 2:
			h.Delete(seq)
			delete(m, seq)
		}
		if len(h) != len(m) {
			t.Fatalf("step %d: %d entries, want %d", n, len(h), len(m))
		}
		for i := 1; i < len(h); i++ {
			if h[i-1].Seq >= h[i].Seq {
				t.Fatalf("step %d: not in seq order: %v", n, h)
			}
		}
		for q := range uint64(41) {
			if got, want := h.Get(q), m[q]; len(got) != len(want) || (got == nil) != (want == nil) {
				t.Fatalf("step %d: Get(%d) = %d words, want %d", n, q, len(got), len(want))
			}
		}
	}
	if g := HavesOf(m); len(g) != len(m) {
		t.Errorf("HavesOf: %d entries, want %d", len(g), len(m))
	}
}
