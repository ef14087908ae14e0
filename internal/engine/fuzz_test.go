package engine

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// fuzzBytes reads the fuzz input field by field; past its end every read is 0.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) empty() bool { return len(f.b) == 0 }

func (f *fuzzBytes) u8() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzBytes) u32() uint32 {
	return uint32(f.u8()) | uint32(f.u8())<<8 | uint32(f.u8())<<16 | uint32(f.u8())<<24
}

func (f *fuzzBytes) n(k int) int { return int(f.u8()) % k }

func (f *fuzzBytes) take(k int) []byte {
	k = min(k, len(f.b))
	c := f.b[:k:k]
	f.b = f.b[k:]
	return c
}

// Every fuzzed segment of (epoch, seq) has one size and fixed bytes, so a
// record and honest pieces can be rebuilt from the seq alone.
var fuzzEpochs = []string{"e1", "e2"}

func fuzzSize(seq uint64) int { return 1 + int(seq*7919)%(6*wire.PieceSize) }

func fuzzData(epoch string, seq uint64) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "%s-%d", epoch, seq))
	b := make([]byte, fuzzSize(seq))
	for i := range b {
		b[i] = h[i%len(h)] + byte(i/len(h))
	}
	return b
}

func fuzzRecord(epoch string, seq uint64) *manifest.Record {
	return manifest.New(testStream, testRend, epoch, seq, fmt.Sprintf("%s/%s-%d.ts", testRend, epoch, seq), 2*time.Second, fuzzData(epoch, seq))
}

var fuzzPeers = []string{"b", "c", "d", "e", selfID}

// FuzzEngineEvents: any sequence of events, at times moving forward, leaves
// the engine without a panic and within its bounds. The input is a stream of
// chunks, each one event (the first byte picks its kind, the next its
// fields) and the time since the previous one.
func FuzzEngineEvents(f *testing.F) {
	f.Add([]byte{})
	// A playlist, a session, links up, HELLOs, announcements, requests.
	f.Add([]byte{1, 0, 100, 4, 0, 1, 4, 0, 1, 0, 0, 0, 9, 0, 0, 1, 0, 10, 0, 1, 0, 0, 10, 0, 1, 3, 0, 0, 2, 0, 0, 3, 0, 0, 11, 0, 1, 0})
	f.Add([]byte{1, 0, 10, 8, 1, 4, 0, 1, 1, 0, 2, 9, 0, 1, 0, 1, 10, 0, 0, 0, 10, 0, 0, 4, 2, 0, 3, 10, 50, 0, 5, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("\x01\x00\x05\x06\x00\x04\x00\x01\x01\x02\x00\x03\x09\x01\x01\x00\x0a\x00\x01\x00\x0a\x02\x01\x07\x00\x00\x00\xff\x0c\x01\x01"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fz := &fuzzBytes{b: in}
		cfg := testConfig()
		cfg.MaxNeighbours = 3
		cfg.Swarm = fz.u8()&1 == 0
		cfg.MaxUpload = []int64{0, -1, 100_000, 2_000_000}[fz.n(4)]
		e := New(cfg, t0)
		now := t0
		links := map[LinkID]string{} // what LinkUp said each link is
		// The caller numbers links and never reuses a number (LinkID); frames,
		// closes and PieceSent may name any link so far, or one never seen.
		var lastLink LinkID
		link := func() LinkID { return LinkID(fz.n(int(lastLink) + 2)) }
		var lastSeq uint64 = 100
		seqNear := func() uint64 { return lastSeq - 8 + uint64(fz.n(24)) }
		epoch := func() string { return fuzzEpochs[fz.n(8)/7] } // mostly e1
		segment := func() wire.SegmentID { return wire.SegmentID{Epoch: epoch(), Seq: seqNear()} }
		for steps := 0; !fz.empty() && steps < 500; steps++ {
			switch d := fz.u8(); {
			case d < 200:
				now = now.Add(time.Duration(d) * 10 * time.Millisecond)
			default:
				now = now.Add(time.Duration(d-199) * time.Second)
			}
			var ev Event
			switch fz.n(15) {
			case 0:
				ev = Tick{}
			case 1:
				first := uint64(fz.u8())
				if fz.u8()&1 == 0 {
					first = lastSeq - 4 + first%8 // mostly a sliding window
				}
				n := fz.n(9)
				pl := PlaylistFetched{Target: []time.Duration{0, time.Second, 2 * time.Second, 6 * time.Second}[fz.n(4)]}
				ep := epoch()
				for i := range n {
					seq := first + uint64(i) + uint64(fz.n(2)) // gaps too
					if len(pl.Entries) > 0 && seq <= pl.Entries[len(pl.Entries)-1].Seq {
						seq = pl.Entries[len(pl.Entries)-1].Seq + 1
					}
					en := Entry{Seq: seq, Epoch: ep, URI: fmt.Sprintf("%s/%s-%d.ts", testRend, ep, seq), Dur: time.Duration(fz.n(5)) * 500 * time.Millisecond}
					if fz.u8()&1 == 0 {
						en.PDT = now.Add(-time.Duration(fz.n(80)) * time.Second)
					}
					pl.Entries = append(pl.Entries, en)
					lastSeq = max(lastSeq, seq)
				}
				if n == 0 && fz.u8()&1 == 0 {
					pl.Err = errors.New("fuzz: playlist")
				}
				pl.Ended = fz.n(4) == 0 // a title (vod.go), or a live stream that ended
				ev = pl
			case 2:
				id := segment()
				ev = RecordFetched{Seq: id.Seq, Rec: fuzzRecord(id.Epoch, id.Seq)}
				if fz.n(4) == 0 {
					ev = RecordFetched{Seq: id.Seq, Err: errors.New("fuzz: record")}
				}
			case 3:
				id := segment()
				d := fuzzData(id.Epoch, id.Seq)
				first, count := fz.n(7), fz.n(7)
				off := min(first*wire.PieceSize, len(d))
				end := min((first+count)*wire.PieceSize, len(d))
				data := d[off:end]
				switch fz.n(4) {
				case 0:
					data = data[:len(data)/2] // short body
				case 1:
					data = fz.take(fz.n(64)) // garbage
				}
				ev = EdgeFetched{Seq: id.Seq, First: first, Count: count, Data: data,
					Asked: now.Add(-time.Duration(fz.n(100)) * time.Millisecond), Headers: now.Add(-time.Duration(fz.n(50)) * time.Millisecond), Done: now}
			case 4:
				ev = SessionUp{Session: SessionID(fz.n(3) + 1), PeerID: fuzzPeers[fz.n(len(fuzzPeers))], Policy: fuzzPolicy(fz), Stripe: fuzzStripe(fz)}
			case 5:
				ev = StripeChanged{Session: SessionID(fz.n(3) + 1), Stripe: fuzzStripe(fz)}
			case 6:
				ev = PolicyChanged{Session: SessionID(fz.n(3) + 1), Policy: fuzzPolicy(fz)}
			case 7:
				ev = NeighboursRemoved{Session: SessionID(fz.n(3) + 1), IDs: []string{fuzzPeers[fz.n(len(fuzzPeers))]}}
			case 8:
				ev = SessionDown{Session: SessionID(fz.n(3) + 1)}
			case 9:
				lastLink++
				l := lastLink
				links[l] = fuzzPeers[fz.n(len(fuzzPeers))]
				ev = LinkUp{Session: SessionID(fz.n(3) + 1), Link: l, Remote: links[l]}
			case 10:
				l := link()
				m := fuzzMsg(fz, links[l], segment)
				if m == nil {
					continue
				}
				ev = FrameReceived{Link: l, Msg: m}
			case 11:
				var err error
				if fz.u8()&1 == 0 {
					err = wire.ErrInvalid
				}
				ev = LinkDown{Link: link(), Err: err}
			case 12:
				ev = PieceSent{Link: link()}
			case 13:
				id := segment()
				ev = Demand{Seq: id.Seq, Epoch: id.Epoch}
			case 14:
				ev = Seek{Pos: time.Duration(fz.n(64)) * 700 * time.Millisecond}
			}
			e.Step(now, ev)
			if fz.n(4) != 0 {
				e.Ready(now)
				if w := e.Wake(); !w.After(now) {
					t.Fatalf("step %d: after Ready(%v) Wake is %v: a virtual-time driver would spin", steps, now, w)
				}
			}
			checkBounds(t, e, steps)
		}
	})
}

func fuzzPolicy(fz *fuzzBytes) Policy {
	return Policy{P2P: fz.n(4) != 0, MaxUpload: []int64{0, 50_000, 1_000_000, 8_000_000}[fz.n(4)]}
}

func fuzzStripe(fz *fuzzBytes) scheduler.Stripe {
	return scheduler.Stripe{Index: fz.n(5) - 1, Count: fz.n(5)}
}

// fuzzMsg is a frame from a neighbour we think is remote: constructed with
// fields from the input, or decoded from raw input bytes. Only valid frames
// come (the shell drops a frame that does not decode, closing its link).
func fuzzMsg(fz *fuzzBytes, remote string, segment func() wire.SegmentID) wire.Msg {
	var m wire.Msg
	rng := func() (wire.SegmentID, uint32, uint32) {
		return segment(), uint32(fz.n(8)), uint32(fz.n(8))
	}
	switch fz.n(12) {
	case 0:
		id := remote
		if fz.n(8) == 0 {
			id = fuzzPeers[fz.n(len(fuzzPeers))]
		}
		st := testStream
		if fz.n(16) == 0 {
			st = "other"
		}
		m = wire.Hello{MaxVersion: wire.Version, Stream: st, Rendition: testRend, PeerID: id, UploadKbps: uint32(fz.n(3)) * 1000}
	case 1:
		s := segment()
		n := uint32(fz.n(8))
		bits := wire.NewBitfield(int(n))
		copy(bits, fz.take(len(bits)))
		if n%8 != 0 && len(bits) > 0 {
			bits[len(bits)-1] &= 0xff << (8 - n%8) // spare bits zero
		}
		m = wire.BitfieldMsg{Segment: s, Pieces: n, Bits: bits}
	case 2:
		s, a, c := rng()
		m = wire.Have{Segment: s, First: a, Count: c}
	case 3:
		s, a, c := rng()
		m = wire.Request{Segment: s, First: a, Count: c}
	case 4:
		s := segment()
		i := fz.n(7)
		d := fuzzData(s.Epoch, s.Seq)
		data := d[min(i*wire.PieceSize, len(d)):min((i+1)*wire.PieceSize, len(d))]
		if fz.n(4) == 0 || len(data) == 0 {
			data = append([]byte{1}, fz.take(fz.n(32))...) // a lie
		}
		m = wire.Piece{Segment: s, Index: uint32(i), Data: data}
	case 5:
		s, a, c := rng()
		m = wire.Cancel{Segment: s, First: a, Count: c}
	case 6:
		s, a, c := rng()
		m = wire.Reject{Segment: s, First: a, Count: c, Reason: wire.Reason(fz.n(6))}
	case 7:
		m = wire.Choke{Serial: uint32(fz.n(8))}
	case 8:
		m = wire.Unchoke{Serial: uint32(fz.n(8))}
	case 9:
		m = wire.Ping{Token: fz.u32()}
	case 10:
		m = wire.Pong{Token: fz.u32()}
	case 11:
		raw := fz.take(fz.n(48))
		dm, err := wire.Decode(raw)
		if err != nil {
			return nil
		}
		return dm
	}
	if wire.Validate(m) != nil {
		return nil
	}
	return m
}

// checkBounds asserts the engine's state is consistent and bounded.
func checkBounds(t *testing.T, e *Engine, step int) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d: "+format, append([]any{step}, args...)...)
	}
	if len(e.order) != len(e.segs) {
		fail("order has %d seqs, segs %d", len(e.order), len(e.segs))
	}
	for i, seq := range e.order {
		if e.segs[seq] == nil || (i > 0 && e.order[i-1] >= seq) {
			fail("order %v not the ascending seqs of segs", e.order)
		}
	}
	// 500 events, at most 8 entries a playlist: the window is bounded by what was fed.
	if len(e.segs) > 500*8 {
		fail("%d segments", len(e.segs))
	}
	if len(e.nbs) > e.cfg.MaxNeighbours || len(e.nbs) != len(e.nbLinks) || len(e.nbs) != len(e.nbList) {
		fail("neighbours: %d by id, %d by link, %d listed (max %d)", len(e.nbs), len(e.nbLinks), len(e.nbList), e.cfg.MaxNeighbours)
	}
	noRec := 0
	for _, s := range e.segs {
		if s.rec == nil {
			noRec++
		}
	}
	if noRec != e.noRec {
		fail("%d segments without a record, counted %d", noRec, e.noRec)
	}
	var queued int64
	for _, nb := range e.nbList {
		if e.nbs[nb.id] != nb || e.byLink(nb.link) != nb {
			fail("neighbour %s indexed inconsistently", nb.id)
		}
		if len(nb.queue) > wire.MaxOutstanding {
			fail("%s: %d pieces queued", nb.id, len(nb.queue))
		}
		if len(nb.early) > maxEarlyFrames {
			fail("%s: %d early frames", nb.id, len(nb.early))
		}
		if nb.hello && len(nb.early) > 0 {
			fail("%s: early frames kept after HELLO", nb.id)
		}
		for _, j := range nb.queue {
			if e.segs[j.seg.id.Seq] != j.seg || !j.seg.have.Has(j.idx) {
				fail("%s: queued piece %s/%d we do not hold", nb.id, j.seg.id, j.idx)
			}
			queued += j.size()
		}
		if len(nb.have) > len(e.segs)+maxFutureSegs+64 {
			fail("%s: announcements of %d segments", nb.id, len(nb.have))
		}
		for _, h := range nb.have {
			if len(h.Have) > wire.MaxPieces/64 {
				fail("%s: bitfield of %d words for %d", nb.id, len(h.Have), h.Seq)
			}
		}
	}
	if queued != e.up.queued {
		fail("upload backlog %d bytes, queues hold %d", e.up.queued, queued)
	}
	for k := range e.pending.m {
		s := e.segs[k.seq]
		if s == nil || s.rec == nil || k.piece < 0 || k.piece >= s.pieces() {
			fail("pending %+v for a piece not in the window", k)
		}
		if k.from != scheduler.Edge && e.nbs[k.from] == nil {
			fail("pending %+v from a neighbour gone", k)
		}
	}
	if e.pending.len() > len(e.segs)*6*(len(e.nbs)+1) || len(e.pending.order) != e.pending.len() {
		fail("%d requests in flight (%d in order)", e.pending.len(), len(e.pending.order))
	}
	for seq, s := range e.segs {
		if s.rec != nil && (len(s.data) != s.pieces() || s.verified != s.have.Count() || s.complete != (s.verified == s.pieces())) {
			fail("segment %d: %d pieces, %d verified, %d held, complete %v", seq, s.pieces(), s.verified, s.have.Count(), s.complete)
		}
	}
	for seq := range e.newHave {
		if e.segs[seq] == nil {
			fail("announcement pending for %d, not in the window", seq)
		}
	}
}
