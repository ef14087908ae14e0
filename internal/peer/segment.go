package peer

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// segment is one segment of the live window as the engine holds it. The loop
// owns every field; data bytes of verified pieces never change again, so
// uploaders and the proxy (after done) read them without a lock.
type segment struct {
	id   wire.SegmentID
	uri  string // relative to /live/{stream}/
	dur  time.Duration
	seen time.Time // first listed in a playlist we fetched

	rec        *manifest.Record // nil until fetched and verified
	recLoading bool
	recTries   int
	recRetry   time.Time

	data     []byte             // rec.Size bytes once rec is known
	have     scheduler.Bitfield // verified pieces
	verified int
	complete bool
	done     chan struct{} // closed when complete

	demand time.Time // a local player asked for it (zero: not asked)
}

func newSegment(e entry, now time.Time) *segment {
	return &segment{id: wire.SegmentID{Epoch: e.epoch, Seq: e.seq}, uri: e.uri, dur: e.dur, seen: now, done: make(chan struct{})}
}

// setRecord installs a verified record and allocates the segment's bytes.
func (s *segment) setRecord(r *manifest.Record) {
	s.rec = r
	s.data = make([]byte, r.Size)
	s.have = scheduler.NewBitfield(r.Pieces())
}

func (s *segment) pieces() int {
	if s.rec == nil {
		return 0
	}
	return s.rec.Pieces()
}

// pieceRange is the byte range of piece i.
func (s *segment) pieceRange(i int) (off, end int64) {
	ps := int64(s.rec.PieceSize)
	off = int64(i) * ps
	return off, min(off+ps, s.rec.Size)
}

// piece returns the bytes of verified piece i (read-only).
func (s *segment) piece(i int) []byte {
	off, end := s.pieceRange(i)
	return s.data[off:end:end]
}

// store verifies piece i and keeps it. It returns (stored, err): err means the
// data does not match the record (wrong hash, wrong length, index out of
// range); stored is false for a piece already held.
func (s *segment) store(i int, data []byte) (bool, error) {
	if err := s.rec.VerifyPiece(i, data); err != nil {
		return false, err
	}
	if s.have.Has(i) {
		return false, nil
	}
	off, _ := s.pieceRange(i)
	copy(s.data[off:], data)
	s.have.Set(i)
	s.verified++
	if s.verified == s.pieces() {
		s.complete = true
		close(s.done)
	}
	return true, nil
}

// wireBitfield is our BITFIELD for s.
func (s *segment) wireBitfield() wire.BitfieldMsg {
	n := s.pieces()
	bf := wire.NewBitfield(n)
	for i := range n {
		if s.have.Has(i) {
			bf.Set(i)
		}
	}
	return wire.BitfieldMsg{Segment: s.id, Pieces: uint32(n), Bits: bf}
}

// growSet sets pieces [first, first+count) in b, growing it as needed (a
// neighbour may announce pieces of a segment whose record we lack).
func growSet(b scheduler.Bitfield, first, count int) scheduler.Bitfield {
	need := (first + count + 63) / 64
	if need > len(b) {
		b = append(b, make(scheduler.Bitfield, need-len(b))...)
	}
	for i := first; i < first+count; i++ {
		b.Set(i)
	}
	return b
}

// clearRange clears pieces [first, first+count) of b.
func clearRange(b scheduler.Bitfield, first, count int) {
	for i := first; i < first+count; i++ {
		if i >= 0 && i/64 < len(b) {
			b[i/64] &^= 1 << (uint(i) % 64)
		}
	}
}
