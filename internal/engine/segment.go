package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Entry is one segment listed in the rendition's playlist.
type Entry struct {
	Seq   uint64
	Epoch string
	URI   string // relative to /live/{stream}/, e.g. "index/mabc12-41.ts"
	Dur   time.Duration
	PDT   time.Time // EXT-X-PROGRAM-DATE-TIME, zero if absent
}

// Published estimates when the origin published e, for the player model: the
// end of its media on the wall clock (PROGRAM-DATE-TIME + duration) when that
// is plausible (within a minute before we saw it: clocks roughly agree), else
// the moment we first saw it. The PDT makes every peer agree on publication
// times whatever its polling phase and the edge's playlist cache.
func (e Entry) Published(seen time.Time) time.Time {
	if e.PDT.IsZero() {
		return seen
	}
	t := e.PDT.Add(e.Dur)
	if t.After(seen) || t.Before(seen.Add(-time.Minute)) {
		return seen
	}
	return t
}

// segment is one segment of the live window. Verified pieces are kept as
// the slices they arrived in (never copied, never changed again), so a piece
// is forwarded from the buffer it came in and an emulated swarm can share
// one immutable buffer between all its viewers.
type segment struct {
	id   wire.SegmentID
	uri  string
	dur  time.Duration
	seen time.Time // first listed in a playlist we fetched

	rec        *manifest.Record // nil until fetched and verified
	recLoading bool
	recTries   int
	recRetry   time.Time

	data     [][]byte           // per piece, once verified
	have     scheduler.Bitfield // verified pieces
	verified int
	complete bool

	demand time.Time // a local player asked for it (zero: not asked)
}

func newSegment(e Entry, now time.Time) *segment {
	return &segment{id: wire.SegmentID{Epoch: e.Epoch, Seq: e.Seq}, uri: e.URI, dur: e.Dur, seen: now}
}

// setRecord installs a verified record.
func (s *segment) setRecord(r *manifest.Record) {
	s.rec = r
	s.data = make([][]byte, r.Pieces())
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

// pieceLen is the length of piece i.
func (s *segment) pieceLen(i int) int64 {
	off, end := s.pieceRange(i)
	return end - off
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
	s.data[i] = data[:len(data):len(data)]
	s.have.Set(i)
	s.verified++
	s.complete = s.verified == s.pieces()
	return true, nil
}

// bytes is the whole segment, once complete.
// Its pieces are then kept as slices of it, so the buffers they arrived in
// (frames, edge bodies) are freed: one copy of a segment, not two.
func (s *segment) bytes() []byte {
	b := make([]byte, 0, s.rec.Size)
	for _, p := range s.data {
		b = append(b, p...)
	}
	for i := range s.data {
		off, end := s.pieceRange(i)
		s.data[i] = b[off:end:end]
	}
	return b
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
