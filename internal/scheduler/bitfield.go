package scheduler

import "math/bits"

// Bitfield is a set of piece indexes. The zero value (nil) is empty; Set needs
// one made by NewBitfield with room for the index.
type Bitfield []uint64

// NewBitfield returns an empty bitfield with room for n pieces.
func NewBitfield(n int) Bitfield {
	if n <= 0 {
		return nil
	}
	return make(Bitfield, (n+63)/64)
}

// Has reports whether piece i is in b; out of range is false.
func (b Bitfield) Has(i int) bool {
	if i < 0 || i/64 >= len(b) {
		return false
	}
	return b[i/64]&(1<<(uint(i)%64)) != 0
}

// Set adds piece i; an index beyond b's room is ignored.
func (b Bitfield) Set(i int) {
	if i < 0 || i/64 >= len(b) {
		return
	}
	b[i/64] |= 1 << (uint(i) % 64)
}

// Count is the number of pieces in b.
func (b Bitfield) Count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}
