package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Hostile neighbours (docs/abuse.md): each test asserts that the viewer under
// attack still plays every segment whole, on time, and no worse than from the
// edge alone. The liar, the staller (accepts requests, never answers) and the
// choker are in engine_test.go.

// deliveredWhole fails unless seq was delivered exactly once with its own bytes.
func (w *world) deliveredWhole(seq uint64) {
	w.t.Helper()
	if d := w.delivered[seq]; len(d) != 1 || !bytes.Equal(d[0], segData(seq)) {
		w.t.Fatalf("segment %d delivered %d times or with wrong bytes", seq, len(d))
	}
}

// A neighbour that announces pieces it does not have, and announces them again
// after every refusal, with an honest holder beside it: the honest one serves
// the segment, the edge is not needed, and the loop does not spin (pump settles).
func TestPhantomAnnouncer(t *testing.T) {
	for _, why := range []wire.Reason{wire.ReasonNotHeld, wire.ReasonUnknownSegment} {
		t.Run(why.String(), func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, phantom, true).why = why
			w.connect("c", lc, honest, true)
			w.announce(lb, farSeq)
			w.announce(lc, farSeq)
			w.runFor(3 * time.Second)
			w.deliveredWhole(farSeq)
			if got := edgePieces(w.edge, farSeq, scheduler.ReasonUrgent); len(got) != 0 {
				t.Errorf("the edge was asked for %v: the honest holder should have served it", got)
			}
		})
	}
}

// A phantom alone: the edge takes the segment at the handover, before its
// deadline (t0+8s), as it would with no neighbour at all.
func TestPhantomAlone(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, phantom, true)
	w.announce(lb, farSeq)
	w.runFor(7 * time.Second) // t0+7s: before farSeq's deadline
	w.deliveredWhole(farSeq)
}

// Announcements of segments we will never list (far ahead, other epochs,
// out-of-range pieces) are ignored: the neighbour's state stays bounded by our
// window plus maxFutureSegs, and playback goes on.
func TestAnnouncementFlood(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, staller, true)
	for i := range uint64(100_000) {
		w.frame(lb, wire.Have{Segment: wire.SegmentID{Epoch: testEpoch, Seq: farSeq + 1 + i}, First: 0, Count: 1})
		w.frame(lb, wire.Have{Segment: wire.SegmentID{Epoch: "other", Seq: startSeq}, First: uint32(i % 64), Count: 1})
	}
	w.frame(lb, wire.Have{Segment: segID(farSeq), First: 1 << 20, Count: 1}) // beyond the record
	if n, max := len(w.e.nbs["b"].have), len(w.e.order)+maxFutureSegs; n > max {
		t.Fatalf("neighbour state holds %d segments, bound %d", n, max)
	}
	w.runFor(7 * time.Second)
	w.deliveredWhole(farSeq)
}

// A neighbour that requests without end, and never lets its writer finish
// (no PieceSent: it does not read): its queue stays at the wire's bound, the
// backlog at the upload line's, everything beyond is refused over_cap; it is
// dropped after writerTimeout, and an honest neighbour is served then (before
// the fix it was refused over_cap until the pings timed out, 10 s).
func TestEndlessRequester(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUpload = 8 * 20 * wire.PieceSize // 20 pieces/s
	w := newWorld(t, cfg)
	w.start()
	w.connect("b", lb, honest, false)
	w.connect("c", lc, honest, false)
	w.ready()
	rejects := 0
	for range 20_000 {
		w.step(FrameReceived{Link: lb, Msg: wire.Request{Segment: segID(startSeq), First: 0, Count: segPieces}})
		for _, a := range w.ready() {
			if s, ok := a.(Send); ok && s.Link == lb {
				if r, ok := s.Msg.(wire.Reject); ok && r.Reason == wire.ReasonOverCap {
					rejects++
				}
			}
		}
	}
	nb := w.e.nbs["b"]
	if len(nb.queue) > maxQueuedPieces {
		t.Fatalf("flooder's queue %d, bound %d", len(nb.queue), maxQueuedPieces)
	}
	if bound := int64(float64(cfg.MaxUpload)/8*busyBacklog.Seconds()) + wire.PieceSize; w.e.up.queued > bound {
		t.Fatalf("upload backlog %d bytes, bound %d", w.e.up.queued, bound)
	}
	if rejects == 0 {
		t.Fatal("no over_cap refusals under a request flood")
	}
	// c asks for a piece, and again after each over_cap back-off, as a real
	// requester does; the flooder goes on asking first.
	var got []wire.Piece
	dropped := false
	start := w.now
	for i := range 300 {
		if w.e.nbs["b"] != nil {
			w.frame(lb, wire.Request{Segment: segID(startSeq), First: 0, Count: segPieces})
		}
		if i%4 == 0 {
			w.frame(lc, wire.Request{Segment: segID(startSeq), First: 3, Count: 1})
		}
		acts := w.advance(50 * time.Millisecond)
		dropped = dropped || closed(acts, lb)
		for _, a := range acts {
			if s, ok := a.(Send); ok && s.Link == lc {
				if p, ok := s.Msg.(wire.Piece); ok {
					got = append(got, p)
				}
			}
		}
		if len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0].Data, pieceData(startSeq, 3)) {
		t.Fatalf("honest neighbour got %v under the flood, want piece 3", got)
	}
	if !dropped {
		t.Error("the flooder that does not read was not dropped")
	}
	if d := w.now.Sub(start); d > writerTimeout+1500*time.Millisecond {
		t.Errorf("honest neighbour served after %v, want within writerTimeout (+ a housekeeping second)", d)
	}
}
