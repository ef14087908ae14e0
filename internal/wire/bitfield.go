package wire

import "math/bits"

// Bitfield is a piece bitmap: piece i is bit 7-(i%8) of byte i/8 (most significant bit
// first, as in BitTorrent). A bitfield for n pieces has BitfieldLen(n) bytes and its
// spare bits are zero. The zero value is an empty bitfield that holds nothing.
//
// A Bitfield does not know its piece count, only its byte length: set only indices
// below the segment's piece count, or the spare bits make the BITFIELD invalid
// (Validate reports it).
type Bitfield []byte

// BitfieldLen returns ceil(pieces/8), the byte length of a bitfield for pieces pieces.
func BitfieldLen(pieces int) int { return (pieces + 7) / 8 }

// NewBitfield returns an all-clear bitfield for pieces pieces.
func NewBitfield(pieces int) Bitfield { return make(Bitfield, BitfieldLen(pieces)) }

// Has reports whether piece i is set; an index outside the bitfield is not.
func (b Bitfield) Has(i int) bool {
	return i >= 0 && i/8 < len(b) && b[i/8]&(0x80>>(i%8)) != 0
}

// Set sets piece i; an index outside the bitfield is ignored.
func (b Bitfield) Set(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] |= 0x80 >> (i % 8)
	}
}

// Clear clears piece i; an index outside the bitfield is ignored.
func (b Bitfield) Clear(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] &^= 0x80 >> (i % 8)
	}
}

// SetRange sets pieces [first, first+count), ignoring indices outside the bitfield's bytes.
func (b Bitfield) SetRange(first, count int) {
	for i := max(first, 0); i < first+count && i/8 < len(b); i++ {
		b.Set(i)
	}
}

// Count returns the number of set pieces.
func (b Bitfield) Count() int {
	n := 0
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return n
}
