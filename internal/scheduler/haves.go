package scheduler

import (
	"cmp"
	"slices"
)

// Haves is what one neighbour announced: a bitfield per segment seq, in
// seq order. A neighbour announces a handful of segments (its window) and
// the ones looked up are the newest, so a short slice scanned from its end
// is faster than a map, and every plan looks up each neighbour's every
// wanted segment. The zero value is empty.
type Haves []SegmentHave

// SegmentHave is one entry of Haves.
type SegmentHave struct {
	Seq  uint64
	Have Bitfield
}

// Get is the bitfield announced for seq (nil: none).
func (h Haves) Get(seq uint64) Bitfield {
	for i := len(h) - 1; i >= 0 && h[i].Seq >= seq; i-- {
		if h[i].Seq == seq {
			return h[i].Have
		}
	}
	return nil
}

// Set makes b the bitfield announced for seq.
func (h *Haves) Set(seq uint64, b Bitfield) {
	i := len(*h)
	for i > 0 && (*h)[i-1].Seq >= seq {
		if i--; (*h)[i].Seq == seq {
			(*h)[i].Have = b
			return
		}
	}
	*h = slices.Insert(*h, i, SegmentHave{seq, b})
}

// Delete forgets seq.
func (h *Haves) Delete(seq uint64) {
	*h = slices.DeleteFunc(*h, func(e SegmentHave) bool { return e.Seq == seq })
}

// HavesOf is m as Haves, in seq order.
func HavesOf(m map[uint64]Bitfield) Haves {
	h := make(Haves, 0, len(m))
	for seq, b := range m {
		h = append(h, SegmentHave{seq, b})
	}
	slices.SortFunc(h, func(a, b SegmentHave) int { return cmp.Compare(a.Seq, b.Seq) })
	return h
}
