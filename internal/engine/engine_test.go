package engine

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

const lb, lc LinkID = 1, 2 // neighbours "b" and "c"

// noUpload is a viewer that serves nobody: it never seeds and never falls
// back to the edge before the urgent window, so a piece no neighbour serves
// comes from the edge exactly as its deadline nears (Why urgent).
func noUpload() Config {
	c := testConfig()
	c.UploadCapacity = 0
	return c
}

func TestHelloOut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    func(*Config)
		kbps   uint32
		unchok bool // we UNCHOKE after their HELLO
	}{
		{"uploader", func(*Config) {}, 5000, true},
		{"upload off", func(c *Config) { c.MaxUpload = -1 }, 0, false},
		{"no capacity", func(c *Config) { c.UploadCapacity = 0 }, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.cfg(&cfg)
			w := newWorld(t, cfg)
			w.start()
			p := w.connect("b", lb, honest, false)
			want := wire.Hello{MaxVersion: wire.Version, Stream: testStream, Rendition: testRend, PeerID: selfID, UploadKbps: tt.kbps}
			if p.got[0] != want {
				t.Errorf("HELLO = %+v, want %+v", p.got[0], want)
			}
			acts := w.ready()
			// Their HELLO: our BITFIELD of what we hold (the start segment), and UNCHOKE if we upload.
			bfs := sentOf[wire.BitfieldMsg](acts, lb)
			if len(bfs) != 1 || bfs[0].Segment != segID(startSeq) || bfs[0].Pieces != segPieces || bfs[0].Bits.Count() != segPieces {
				t.Errorf("BITFIELDs after HELLO = %+v, want all of %d", bfs, startSeq)
			}
			if u := sentOf[wire.Unchoke](acts, lb); (len(u) == 1 && u[0].Serial == 1) != tt.unchok {
				t.Errorf("UNCHOKEs = %+v, want one with serial 1: %v", u, tt.unchok)
			}
		})
	}
}

func TestHelloIn(t *testing.T) {
	good := wire.Hello{MaxVersion: wire.Version, Stream: testStream, Rendition: testRend, PeerID: "b", UploadKbps: 1}
	for _, tt := range []struct {
		name   string
		frames []wire.Msg
		ok     bool // the link stays
	}{
		{"good", []wire.Msg{good}, true},
		{"wrong stream", []wire.Msg{wire.Hello{MaxVersion: 1, Stream: "other", Rendition: testRend, PeerID: "b"}}, false},
		{"wrong rendition", []wire.Msg{wire.Hello{MaxVersion: 1, Stream: testStream, Rendition: "hi", PeerID: "b"}}, false},
		{"wrong peer id", []wire.Msg{wire.Hello{MaxVersion: 1, Stream: testStream, Rendition: testRend, PeerID: "c"}}, false},
		{"second HELLO", []wire.Msg{good, good}, false},
		{"64 early frames", append(slices.Repeat([]wire.Msg{wire.Ping{Token: 1}}, maxEarlyFrames), good), true},
		{"65 early frames", append(slices.Repeat([]wire.Msg{wire.Ping{Token: 1}}, maxEarlyFrames+1), good), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, testConfig())
			w.start()
			w.step(LinkUp{Session: 1, Link: lb, Remote: "b"})
			w.ready()
			for _, m := range tt.frames {
				w.frame(lb, m)
			}
			acts := w.ready()
			if closed(acts, lb) == tt.ok {
				t.Fatalf("link closed = %v, want %v (actions %v)", closed(acts, lb), !tt.ok, acts)
			}
			if tt.ok {
				if nb := w.e.nbs["b"]; nb == nil || !nb.hello {
					t.Fatal("neighbour not accepted")
				}
				return
			}
			// A violation: never accepted again this session.
			w.step(LinkUp{Session: 1, Link: 9, Remote: "b"})
			if acts := w.ready(); !closed(acts, 9) || w.e.nbs["b"] != nil {
				t.Errorf("LinkUp after a violation: %v, want CloseLink", acts)
			}
		})
	}
}

// Frames before HELLO are applied after it, in order.
func TestEarlyFramesApplied(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.peers[lb] = &fakePeer{id: "b", link: lb, mode: staller}
	w.step(LinkUp{Session: 1, Link: lb, Remote: "b"})
	w.pump()
	w.frame(lb, wire.Unchoke{Serial: 1})
	w.announce(lb, farSeq)
	w.frame(lb, wire.Ping{Token: 42})
	if acts := w.ready(); len(sentOf[wire.Request](acts, lb)) != 0 || len(sentOf[wire.Pong](acts, lb)) != 0 {
		t.Fatalf("acted on frames before HELLO: %v", acts)
	}
	w.frame(lb, wire.Hello{MaxVersion: 1, Stream: testStream, Rendition: testRend, PeerID: "b", UploadKbps: 1})
	acts := w.ready()
	if p := sentOf[wire.Pong](acts, lb); len(p) != 1 || p[0].Token != 42 {
		t.Errorf("PONGs = %v, want one for the early PING", p)
	}
	if got := requested(sentOf[wire.Request](acts, lb), farSeq); len(got) == 0 {
		t.Errorf("no REQUEST after the early UNCHOKE and HAVE: %v", acts)
	}
}

func TestBitfieldIn(t *testing.T) {
	full := wire.NewBitfield(segPieces)
	full.SetRange(0, segPieces)
	for _, tt := range []struct {
		name   string
		msgs   []wire.BitfieldMsg
		closed bool
		want   []int // pieces of farSeq requested from b
	}{
		{"all pieces", []wire.BitfieldMsg{{Segment: segID(farSeq), Pieces: segPieces, Bits: full}}, false, allPieces()[:4]},
		{"some pieces", []wire.BitfieldMsg{{Segment: segID(farSeq), Pieces: segPieces, Bits: wire.Bitfield{0b10100000}}}, false, []int{0, 2}},
		{"wrong piece count", []wire.BitfieldMsg{{Segment: segID(farSeq), Pieces: segPieces + 1, Bits: wire.NewBitfield(segPieces + 1)}}, true, nil},
		{"withdrawn", []wire.BitfieldMsg{{Segment: segID(farSeq), Pieces: segPieces, Bits: full}, {Segment: segID(farSeq)}}, false, nil},
		{"other epoch", []wire.BitfieldMsg{{Segment: wire.SegmentID{Epoch: "e2", Seq: farSeq}, Pieces: segPieces, Bits: full}}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, staller, true)
			for _, m := range tt.msgs {
				w.frame(lb, m)
			}
			acts := w.ready()
			if closed(acts, lb) != tt.closed {
				t.Fatalf("closed = %v, want %v", closed(acts, lb), tt.closed)
			}
			got := requested(sentOf[wire.Request](acts, lb), farSeq)
			if tt.name == "all pieces" {
				// The scheduler bounds what is in flight to one neighbour (4 pieces at the default rate).
				if len(got) != 4 {
					t.Errorf("requested %v, want 4 of the 5 pieces", got)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("requested %v, want %v", got, tt.want)
			}
		})
	}
}

// HAVE makes the scheduler ask that neighbour; CHOKE/UNCHOKE apply by serial.
func TestHaveAndChokeSerials(t *testing.T) {
	for _, tt := range []struct {
		name    string
		serials []wire.Msg
		asks    bool
	}{
		{"choked at first", nil, false},
		{"unchoked", []wire.Msg{wire.Unchoke{Serial: 1}}, true},
		{"older CHOKE ignored", []wire.Msg{wire.Unchoke{Serial: 5}, wire.Choke{Serial: 3}}, true},
		{"equal serial ignored", []wire.Msg{wire.Unchoke{Serial: 5}, wire.Choke{Serial: 5}}, true},
		{"newer CHOKE applies", []wire.Msg{wire.Unchoke{Serial: 5}, wire.Choke{Serial: 6}}, false},
		{"reordered: late UNCHOKE ignored", []wire.Msg{wire.Choke{Serial: 2}, wire.Unchoke{Serial: 1}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, staller, false)
			for _, m := range tt.serials {
				w.frame(lb, m)
			}
			w.frame(lb, wire.Have{Segment: segID(farSeq), First: 1, Count: 2})
			got := requested(sentOf[wire.Request](w.ready(), lb), farSeq)
			want := []int{1, 2}
			if !tt.asks {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("requested %v, want %v", got, want)
			}
		})
	}
}

func TestRejectIn(t *testing.T) {
	for _, tt := range []struct {
		reason wire.Reason
		check  func(t *testing.T, nb *neighbour, piece int, now time.Time)
	}{
		{wire.ReasonNotHeld, func(t *testing.T, nb *neighbour, piece int, _ time.Time) {
			if nb.have.Get(farSeq).Has(piece) || nb.have.Get(farSeq).Count() != segPieces-1 {
				t.Error("not_held: the rejected piece should be unannounced, the others kept")
			}
		}},
		{wire.ReasonChoked, func(t *testing.T, nb *neighbour, _ int, _ time.Time) {
			if !nb.chokesUs {
				t.Error("choked: it should count as choking us")
			}
		}},
		{wire.ReasonUnknownSegment, func(t *testing.T, nb *neighbour, _ int, _ time.Time) {
			if nb.have.Get(farSeq) != nil {
				t.Error("unknown_segment: the segment should be unannounced")
			}
		}},
		{wire.ReasonOverCap, func(t *testing.T, nb *neighbour, _ int, now time.Time) {
			if !nb.schedView(now).Choking || nb.schedView(now.Add(overCapBackoff)).Choking {
				t.Error("over_cap: busy for the back-off, then not")
			}
		}},
	} {
		t.Run(tt.reason.String(), func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, staller, true)
			w.announce(lb, farSeq)
			got := requested(sentOf[wire.Request](w.ready(), lb), farSeq)
			if len(got) == 0 {
				t.Fatal("nothing requested")
			}
			piece := got[0]
			w.frame(lb, wire.Reject{Segment: segID(farSeq), First: uint32(piece), Count: 1, Reason: tt.reason})
			if _, ok := w.e.pending.get(pendKey{farSeq, piece, "b"}); ok {
				t.Errorf("piece %d still in flight after REJECT", piece)
			}
			if n := w.e.pending.len(); n != len(got)-1 {
				t.Errorf("%d pieces in flight, want %d", n, len(got)-1)
			}
			tt.check(t, w.e.nbs["b"], piece, w.now)
		})
	}
}

// REQUEST: PIECE for held pieces (one per link until PieceSent), REJECT for the rest.
func TestRequestIn(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	w.connect("b", lb, honest, false)
	w.ready()

	w.frame(lb, wire.Request{Segment: segID(startSeq), First: 2, Count: 3})
	acts := w.ready()
	ps := sentOf[wire.Piece](acts, lb)
	if len(ps) != 1 || ps[0].Index != 2 || !bytes.Equal(ps[0].Data, pieceData(startSeq, 2)) {
		t.Fatalf("PIECEs = %v, want piece 2 alone (its writer holds one at a time)", ps)
	}
	for want := 3; want <= 4; want++ {
		if p := sentOf[wire.Piece](w.ready(), lb); len(p) != 0 {
			t.Fatalf("PIECE %d before PieceSent", p[0].Index)
		}
		w.step(PieceSent{Link: lb})
		p := sentOf[wire.Piece](w.ready(), lb)
		if len(p) != 1 || int(p[0].Index) != want || !bytes.Equal(p[0].Data, pieceData(startSeq, want)) {
			t.Fatalf("after PieceSent: %v, want piece %d", p, want)
		}
	}
	if up := w.e.Stats().BytesUp; up != 2*wire.PieceSize+1000 {
		t.Errorf("BytesUp = %d, want the three pieces", up)
	}
	w.step(PieceSent{Link: lb})

	for _, tt := range []struct {
		name string
		req  wire.Request
		want []wire.Reject
	}{
		{"not held", wire.Request{Segment: segID(farSeq), First: 1, Count: 2},
			[]wire.Reject{{Segment: segID(farSeq), First: 1, Count: 2, Reason: wire.ReasonNotHeld}}},
		{"unknown seq", wire.Request{Segment: segID(999), First: 0, Count: 1},
			[]wire.Reject{{Segment: segID(999), First: 0, Count: 1, Reason: wire.ReasonUnknownSegment}}},
		{"other epoch", wire.Request{Segment: wire.SegmentID{Epoch: "zz", Seq: startSeq}, First: 0, Count: 1},
			[]wire.Reject{{Segment: wire.SegmentID{Epoch: "zz", Seq: startSeq}, First: 0, Count: 1, Reason: wire.ReasonUnknownSegment}}},
		{"beyond the record", wire.Request{Segment: segID(startSeq), First: 4, Count: 3},
			[]wire.Reject{{Segment: segID(startSeq), First: 5, Count: 2, Reason: wire.ReasonNotHeld}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w.frame(lb, tt.req)
			acts := w.ready()
			if got := sentOf[wire.Reject](acts, lb); !slices.EqualFunc(got, tt.want, func(a, b wire.Reject) bool { return a == b }) {
				t.Errorf("REJECTs = %+v, want %+v", got, tt.want)
			}
			for _, p := range sentOf[wire.Piece](acts, lb) {
				w.step(PieceSent{Link: lb})
				if !bytes.Equal(p.Data, pieceData(p.Segment.Seq, int(p.Index))) {
					t.Errorf("PIECE %d has the wrong bytes", p.Index)
				}
			}
		})
	}
}

// We choke a neighbour when we upload nothing: every REQUEST is refused.
func TestRequestWhileChoking(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, honest, false)
	w.frame(lb, wire.Request{Segment: segID(startSeq), First: 0, Count: 2})
	acts := w.ready()
	want := wire.Reject{Segment: segID(startSeq), First: 0, Count: 2, Reason: wire.ReasonChoked}
	if r := sentOf[wire.Reject](acts, lb); len(r) != 1 || r[0] != want {
		t.Errorf("REJECTs = %+v, want %+v", r, want)
	}
	if p := sentOf[wire.Piece](acts, lb); len(p) != 0 {
		t.Errorf("sent %d PIECEs while choking", len(p))
	}
}

// Beyond the upload backlog (busyBacklog at the cap) pieces are refused over_cap.
func TestRequestOverCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUpload = int64(float64(8*wire.PieceSize) / busyBacklog.Seconds()) // the backlog holds one piece
	w := newWorld(t, cfg)
	w.start()
	w.connect("b", lb, honest, false)
	w.frame(lb, wire.Request{Segment: segID(startSeq), First: 0, Count: 3})
	acts := w.ready()
	want := wire.Reject{Segment: segID(startSeq), First: 1, Count: 2, Reason: wire.ReasonOverCap}
	if r := sentOf[wire.Reject](acts, lb); len(r) != 1 || r[0] != want {
		t.Errorf("REJECTs = %+v, want %+v", r, want)
	}
	if q := len(w.e.nbs["b"].queue); q != 1 {
		t.Errorf("queued %d pieces, want 1", q)
	}
}

// twoRequesters is a started world uploading at most maxUpload bit/s that
// holds segment 102 too, with honest neighbours b and c linked.
func twoRequesters(t *testing.T, maxUpload int64) *world {
	cfg := testConfig()
	cfg.MaxUpload = maxUpload
	w := newWorld(t, cfg)
	w.start()
	w.edgeGive(102)
	w.connect("b", lb, honest, false)
	w.connect("c", lc, honest, false)
	w.ready()
	return w
}

// A full backlog takes a piece of an older segment than one it holds: the
// freshest queued piece makes room and its requester is told over_cap; a
// piece of the same segment is refused as before.
func TestOverCapDisplacesFresher(t *testing.T) {
	w := twoRequesters(t, int64(float64(8*2*wire.PieceSize)/busyBacklog.Seconds())) // the backlog holds two pieces
	w.frame(lb, wire.Request{Segment: segID(102), First: 0, Count: 2})
	if r := sentOf[wire.Reject](w.ready(), lb); len(r) != 0 {
		t.Fatalf("REJECTs = %+v, want b's two pieces queued", r)
	}
	w.frame(lc, wire.Request{Segment: segID(102), First: 2, Count: 1})
	acts := w.ready()
	if r := sentOf[wire.Reject](acts, lc); len(r) != 1 || r[0].Reason != wire.ReasonOverCap || r[0].First != 2 {
		t.Fatalf("c asking the same segment: REJECTs = %+v, want 102/2 over_cap", r)
	}
	w.frame(lc, wire.Request{Segment: segID(startSeq), First: 0, Count: 1})
	acts = w.ready()
	if r := sentOf[wire.Reject](acts, lc); len(r) != 0 {
		t.Errorf("c asking an older segment: REJECTs = %+v, want none", r)
	}
	want := wire.Reject{Segment: segID(102), First: 1, Count: 1, Reason: wire.ReasonOverCap}
	if r := sentOf[wire.Reject](acts, lb); len(r) != 1 || r[0] != want {
		t.Errorf("b: REJECTs = %+v, want %+v (its freshest queued piece)", r, want)
	}
	if qb, qc := len(w.e.nbs["b"].queue), len(w.e.nbs["c"].queue); qb != 1 || qc != 1 {
		t.Errorf("queued b %d, c %d; want 1 and 1", qb, qc)
	}
	if got, wantQ := w.e.up.queued, 2*int64(wire.PieceSize); got != wantQ {
		t.Errorf("backlog %d bytes, want %d", got, wantQ)
	}
}

// The tracker's cap applies when lower than ours.
func TestPolicyCap(t *testing.T) {
	w := newWorld(t, testConfig()) // no cap of ours
	w.start()
	w.step(PolicyChanged{Session: 1, Policy: Policy{P2P: true, MaxUpload: 8 * 10 * wire.PieceSize}})
	w.connect("b", lb, honest, false)
	w.frame(lb, wire.Request{Segment: segID(startSeq), First: 0, Count: 3})
	if r := sentOf[wire.Reject](w.ready(), lb); len(r) != 1 || r[0].Reason != wire.ReasonOverCap {
		t.Errorf("REJECTs = %+v, want over_cap under the tracker's cap", r)
	}
}

func TestCancelIn(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	w.connect("b", lb, honest, false)
	w.frame(lb, wire.Request{Segment: segID(startSeq), First: 0, Count: 4})
	if p := sentOf[wire.Piece](w.ready(), lb); len(p) != 1 || p[0].Index != 0 {
		t.Fatalf("PIECEs = %v, want piece 0", p)
	}
	w.frame(lb, wire.Cancel{Segment: segID(startSeq), First: 1, Count: 2})
	if q := w.e.nbs["b"].queue; len(q) != 1 || q[0].idx != 3 {
		t.Fatalf("queue after CANCEL = %v, want piece 3 only", q)
	}
	w.step(PieceSent{Link: lb})
	if p := sentOf[wire.Piece](w.ready(), lb); len(p) != 1 || p[0].Index != 3 {
		t.Errorf("next PIECE = %v, want piece 3", p)
	}
	if w.e.up.queued != 0 {
		t.Errorf("upload backlog %d bytes, want 0", w.e.up.queued)
	}
}

func TestPingPong(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	w.connect("b", lb, honest, false)
	w.frame(lb, wire.Ping{Token: 0xdeadbeef})
	if p := sentOf[wire.Pong](w.ready(), lb); len(p) != 1 || p[0].Token != 0xdeadbeef {
		t.Errorf("PONGs = %v, want the PING's token", p)
	}
	// Housekeeping pings every neighbour; its PONG times the round trip.
	pings := sentOf[wire.Ping](w.advance(time.Second), lb)
	if len(pings) != 1 {
		t.Fatalf("PINGs after 1 s = %v, want 1", pings)
	}
	w.now = w.now.Add(30 * time.Millisecond)
	w.frame(lb, wire.Pong{Token: pings[0].Token + 2}) // not ours
	if rtt := w.e.nbs["b"].rtt; rtt != 0 {
		t.Errorf("RTT %v from a PONG with another token", rtt)
	}
	w.now = w.now.Add(10 * time.Millisecond)
	w.frame(lb, wire.Pong{Token: pings[0].Token})
	if rtt := w.e.nbs["b"].rtt; rtt != 40*time.Millisecond {
		t.Errorf("RTT = %v, want 40ms", rtt)
	}
}

// A neighbour that sends a piece failing verification is reported, dropped
// and refused; the piece comes from the edge when it turns urgent.
func TestLiar(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, liar, true)
	w.announce(lb, farSeq)
	acts := w.pump()
	reqs := sentOf[wire.Request](acts, lb)
	if len(reqs) == 0 {
		t.Fatal("nothing requested from b")
	}
	bad := int(reqs[0].First) // the first lie is caught
	reps := actionsOf[Report](acts)
	want := Report{Session: 1, Peer: "b", Segment: segID(farSeq), Piece: bad, Reason: ReasonBadPiece}
	if len(reps) != 1 || reps[0] != want {
		t.Errorf("Reports = %+v, want %+v", reps, want)
	}
	if !closed(acts, lb) {
		t.Error("liar's link not closed")
	}
	if st := w.e.Stats(); st.BadPieces != 1 || st.BytesP2P != 0 {
		t.Errorf("BadPieces = %d, BytesP2P = %d; want 1, 0", st.BadPieces, st.BytesP2P)
	}
	if w.e.segs[farSeq].have.Count() != 0 {
		t.Error("a piece of the liar was kept")
	}
	w.step(LinkUp{Session: 1, Link: 7, Remote: "b"})
	if acts := w.ready(); !closed(acts, 7) {
		t.Error("the liar was let back in")
	}

	// Nobody else holds farSeq: the edge takes it when urgent (1.5 s before t0+8s).
	w.runFor(6400 * time.Millisecond)
	if got := edgePieces(w.edge, farSeq, scheduler.ReasonUrgent); len(got) != 0 {
		t.Fatalf("edge asked for %v before the urgent window", got)
	}
	w.runFor(200 * time.Millisecond)
	if got := edgePieces(w.edge, farSeq, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
		t.Errorf("urgent edge pieces = %v, want all", got)
	}
	if d := w.delivered[farSeq]; len(d) != 1 || !bytes.Equal(d[0], segData(farSeq)) {
		t.Errorf("farSeq delivered %d times or with the wrong bytes", len(d))
	}
}

// A neighbour that never answers: its requests time out, are cancelled and
// go to the other holder.
func TestStaller(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, staller, true)
	w.connect("c", lc, honest, true)
	w.announce(lb, farSeq)
	w.announce(lc, farSeq)
	acts := w.pump()
	fromB := requested(sentOf[wire.Request](acts, lb), farSeq)
	if len(fromB) == 0 {
		t.Fatal("nothing requested from b")
	}
	if c := sentOf[wire.Cancel](w.runFor(400*time.Millisecond), lb); len(c) != 0 {
		t.Fatalf("cancelled %v before the 500 ms minimum timeout", c)
	}
	acts = w.runFor(time.Second)
	if got := cancelled(sentOf[wire.Cancel](acts, lb), farSeq); !slices.Equal(got, fromB) {
		t.Errorf("cancelled %v at b, want %v", got, fromB)
	}
	if got := requested(sentOf[wire.Request](acts, lc), farSeq); !slices.Equal(got, fromB) {
		t.Errorf("re-requested %v from c, want %v", got, fromB)
	}
	if d := w.delivered[farSeq]; len(d) != 1 || !bytes.Equal(d[0], segData(farSeq)) {
		t.Errorf("farSeq not delivered whole once")
	}
	if got := edgePieces(w.edge, farSeq, scheduler.ReasonUrgent); len(got) != 0 {
		t.Errorf("the edge was asked for %v", got)
	}
}

// A stalling sole holder: the edge takes its pieces at the handover.
func TestStallerAlone(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, staller, true)
	w.announce(lb, farSeq)
	fromB := requested(sentOf[wire.Request](w.pump(), lb), farSeq)
	if len(fromB) == 0 {
		t.Fatal("nothing requested from b")
	}
	w.runFor(7 * time.Second)
	if got := edgePieces(w.edge, farSeq, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
		t.Errorf("urgent edge pieces %v, want all", got)
	}
	if d := w.delivered[farSeq]; len(d) != 1 {
		t.Errorf("farSeq delivered %d times", len(d))
	}
}

// CHOKE mid-request voids b's requests: they go to c at once, no timeout.
// LinkDown mid-piece drops them likewise.
func TestHolderGoesAway(t *testing.T) {
	for _, tt := range []struct {
		name string
		away func(w *world)
	}{
		{"choke", func(w *world) { w.frame(lb, wire.Choke{Serial: 2}) }},
		{"link down", func(w *world) { w.step(LinkDown{Link: lb}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, staller, true)
			w.connect("c", lc, honest, true)
			w.announce(lb, farSeq)
			w.announce(lc, farSeq)
			fromB := requested(sentOf[wire.Request](w.pump(), lb), farSeq)
			if len(fromB) == 0 {
				t.Fatal("nothing requested from b")
			}
			w.now = w.now.Add(10 * time.Millisecond)
			tt.away(w)
			for k := range w.e.pending.m {
				if k.from == "b" {
					t.Fatalf("request %v to b still in flight", k)
				}
			}
			acts := w.pump()
			if got := requested(sentOf[wire.Request](acts, lc), farSeq); !slices.Equal(got, fromB) {
				t.Errorf("re-requested %v from c at once, want %v", got, fromB)
			}
			if d := w.delivered[farSeq]; len(d) != 1 || !bytes.Equal(d[0], segData(farSeq)) {
				t.Error("farSeq not delivered whole once")
			}
		})
	}
}

// A tracker that vanishes: links stay, new links wait for a new session.
func TestSessionDown(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	w.connect("b", lb, honest, false)
	w.step(SessionDown{Session: 1})
	w.frame(lb, wire.Ping{Token: 5})
	acts := w.ready()
	if closed(acts, lb) || w.e.nbs["b"] == nil {
		t.Fatal("SessionDown closed a link")
	}
	if p := sentOf[wire.Pong](acts, lb); len(p) != 1 {
		t.Error("the link stopped working without the tracker")
	}
	if id := w.e.SelfID(); id != "" {
		t.Errorf("SelfID = %q without a session", id)
	}
	w.step(LinkUp{Session: 1, Link: lc, Remote: "c"})
	if acts := w.ready(); !closed(acts, lc) {
		t.Error("LinkUp of the old session accepted")
	}
	w.startSession(2)
	w.step(LinkUp{Session: 1, Link: 5, Remote: "d"})
	acts = w.ready()
	if !closed(acts, 5) {
		t.Error("LinkUp of the old session accepted after a new one began")
	}
	w.peers[6] = &fakePeer{id: "c", link: 6}
	w.step(LinkUp{Session: 2, Link: 6, Remote: "c"})
	acts = w.ready()
	if closed(acts, 6) || len(sentOf[wire.Hello](acts, 6)) != 1 {
		t.Errorf("LinkUp of the new session: %v, want our HELLO", acts)
	}
}

// A seeder asks the edge for exactly its stripe's pieces of each new
// segment as soon as the record arrives, except those a neighbour announced.
func TestSeeding(t *testing.T) {
	const stripes = 2
	w := newWorld(t, testConfig())
	w.noEdge, w.noRecords = true, true
	w.ready()
	w.step(playlist(100, farSeq))
	w.sess = 1
	w.step(SessionUp{Session: 1, PeerID: selfID, Policy: Policy{P2P: true}, Stripe: scheduler.Stripe{Index: 0, Count: stripes}})
	w.connect("b", lb, staller, false)
	stripe := func(seq uint64) []int {
		var out []int
		for i := range segPieces {
			if scheduler.StripeOf(seq, i, segPieces, stripes) == 0 {
				out = append(out, i)
			}
		}
		return out
	}
	announced := stripe(farSeq)[0]
	w.frame(lb, wire.Have{Segment: segID(farSeq), First: uint32(announced), Count: 1})
	w.ready()
	if recs := actionsOf[FetchRecord](w.log); len(recs) != 3 {
		t.Fatalf("record fetches %v, want 101..103", recs)
	}
	w.step(RecordFetched{Seq: 102, Rec: w.record(102)})
	fs := actionsOf[FetchEdge](w.ready())
	if got, want := edgePieces(fs, 102, scheduler.ReasonSeed), stripe(102); !slices.Equal(got, want) {
		t.Errorf("seed pieces of 102 = %v, want the stripe %v", got, want)
	}
	w.now = w.now.Add(100 * time.Millisecond)
	w.step(RecordFetched{Seq: farSeq, Rec: w.record(farSeq)})
	fs = actionsOf[FetchEdge](w.ready())
	want := slices.DeleteFunc(stripe(farSeq), func(i int) bool { return i == announced })
	if got := edgePieces(fs, farSeq, scheduler.ReasonSeed); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("seed pieces of %d = %v, want the stripe %v less the announced %d", farSeq, got, want, announced)
	}
	for _, f := range fs {
		if f.Why != scheduler.ReasonSeed || f.Seq != farSeq {
			t.Errorf("unexpected edge fetch %+v", f)
		}
	}
}

// The upload line at a cap: oldest segment first across links, one piece
// per link in its writer, paced by size/rate.
func TestUploadLine(t *testing.T) {
	const rate = 40 * wire.PieceSize // bytes/s: a piece every 25 ms; the backlog holds 4
	pace := time.Second / 40
	w := twoRequesters(t, 8*rate)
	w.frame(lb, wire.Request{Segment: segID(102), First: 0, Count: 2}) // b waits longest
	w.frame(lc, wire.Request{Segment: segID(startSeq), First: 0, Count: 2})
	type sent struct {
		link LinkID
		seq  uint64
		idx  uint32
	}
	next := func(wantWake time.Duration) []sent {
		t.Helper()
		var out []sent
		for _, s := range actionsOf[Send](w.ready()) {
			if p, ok := s.Msg.(wire.Piece); ok {
				out = append(out, sent{s.Link, p.Segment.Seq, p.Index})
			}
		}
		if wantWake > 0 {
			// The uploader rounds its wake up by a nanosecond (upload.go).
			if got := w.e.Wake().Sub(w.now); got < wantWake || got > wantWake+time.Microsecond {
				t.Fatalf("Wake in %v, want %v", got, wantWake)
			}
			w.now = w.e.Wake()
		}
		return out
	}
	start := w.now
	if got := next(pace); len(got) != 0 {
		t.Fatalf("sent %v before the bucket had tokens", got)
	}
	// c's older segment first; b next while c's writer is busy.
	if got := next(pace); !slices.Equal(got, []sent{{lc, startSeq, 0}}) {
		t.Fatalf("first piece %v, want c's %d/0", got, startSeq)
	}
	if got := next(0); !slices.Equal(got, []sent{{lb, 102, 0}}) {
		t.Fatalf("second piece %v, want b's 102/0", got)
	}
	w.step(PieceSent{Link: lb})
	w.step(PieceSent{Link: lc})
	if got := next(pace); len(got) != 0 {
		t.Fatalf("sent %v without tokens", got)
	}
	// Both writers free: the older segment wins though b has waited longer.
	if got := next(pace); !slices.Equal(got, []sent{{lc, startSeq, 1}}) {
		t.Fatalf("third piece %v, want c's %d/1", got, startSeq)
	}
	if got := next(0); !slices.Equal(got, []sent{{lb, 102, 1}}) {
		t.Fatalf("fourth piece %v, want b's 102/1", got)
	}
	if d := w.now.Sub(start); d < 4*pace || d > 4*pace+time.Microsecond {
		t.Errorf("four pieces took %v, want %v", d, 4*pace)
	}
}

// Playlist polling: one fetch at a time, the next half a target duration
// after the answer (a quarter for a seeder, at least 250 ms).
func TestPollInterval(t *testing.T) {
	for _, tt := range []struct {
		name   string
		target time.Duration
		seeder bool
		want   time.Duration
	}{
		{"viewer", 4 * time.Second, false, 2 * time.Second},
		{"viewer, long target", 20 * time.Second, false, 5 * time.Second},
		{"seeder", 4 * time.Second, true, time.Second},
		{"seeder, short target", time.Second, true, minPoll},
		{"viewer, short target", 200 * time.Millisecond, false, minPoll},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, testConfig())
			if st := tt.seeder; st {
				w.step(SessionUp{Session: 1, PeerID: selfID, Policy: Policy{P2P: true}, Stripe: scheduler.Stripe{Index: 1, Count: 2}})
			}
			if n := len(actionsOf[FetchPlaylist](w.ready())); n != 1 {
				t.Fatalf("%d playlist fetches at start, want 1", n)
			}
			if n := len(actionsOf[FetchPlaylist](w.advance(10 * time.Second))); n != 0 {
				t.Fatalf("a second playlist fetch while one is out")
			}
			pl := playlist(100, farSeq)
			pl.Target = tt.target
			w.step(pl)
			answered := w.now
			w.ready()
			if got := w.e.Wake().Sub(answered); got > tt.want {
				t.Errorf("Wake in %v, later than the poll in %v", got, tt.want)
			}
			w.now = answered.Add(tt.want - time.Millisecond)
			if n := len(actionsOf[FetchPlaylist](w.ready())); n != 0 {
				t.Fatalf("polled %v early", time.Millisecond)
			}
			w.now = answered.Add(tt.want)
			if n := len(actionsOf[FetchPlaylist](w.ready())); n != 1 {
				t.Fatalf("no poll after %v", tt.want)
			}
		})
	}
}

// A neighbour announcing a segment newer than our playlist makes us poll
// early, at most every 250 ms; during a fetch, right after it.
func TestPollPoke(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start() // the playlist came at t0: the next poll is due at t0+2s
	w.connect("b", lb, staller, false)
	w.ready()
	newer := func(seq uint64) []FetchPlaylist {
		w.frame(lb, wire.Have{Segment: segID(seq), First: 0, Count: 1})
		return actionsOf[FetchPlaylist](w.ready())
	}
	if n := len(newer(farSeq)); n != 0 {
		t.Fatal("polled for a segment we list")
	}
	w.now = w.now.Add(100 * time.Millisecond)
	if n := len(newer(farSeq + 1)); n != 1 {
		t.Fatal("no early poll for a newer segment")
	}
	// The fetch is out: a newer announcement polls again as soon as it is answered.
	w.now = w.now.Add(minPoll)
	if n := len(newer(farSeq + 2)); n != 0 {
		t.Fatal("a second fetch while one is out")
	}
	w.step(playlist(100, farSeq))
	if n := len(actionsOf[FetchPlaylist](w.ready())); n != 1 {
		t.Fatal("no poll right after the answer, though a newer segment was announced meanwhile")
	}
	w.step(playlist(100, farSeq))
	w.ready()
	// At most one poke per 250 ms.
	w.now = w.now.Add(minPoll - time.Millisecond)
	if n := len(newer(farSeq + 3)); n != 0 {
		t.Fatal("poked twice within 250 ms")
	}
	w.now = w.now.Add(time.Millisecond)
	if n := len(newer(farSeq + 4)); n != 1 {
		t.Fatal("no poke 250 ms after the last")
	}
}

// A failed playlist fetch retries after a second while the target is unknown.
func TestPollError(t *testing.T) {
	w := newWorld(t, testConfig())
	w.ready()
	w.step(PlaylistFetched{Err: errTest})
	if w.advance(firstPollRetry - time.Millisecond); len(actionsOf[FetchPlaylist](w.log)) != 1 {
		t.Fatal("retried early")
	}
	if n := len(actionsOf[FetchPlaylist](w.advance(time.Millisecond))); n != 1 {
		t.Fatal("no retry after a second")
	}
}

type testErr struct{}

func (testErr) Error() string { return "test error" }

var errTest error = testErr{}

// Deliver comes once per complete segment with its bytes; Forget when it
// leaves the playlist.
func TestDeliverAndForget(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	if d := w.delivered[startSeq]; len(d) != 1 || !bytes.Equal(d[0], segData(startSeq)) {
		t.Fatal("start segment not delivered with its bytes")
	}
	w.edgeGive(startSeq) // again: nothing new
	acts := w.pump()
	if n := len(actionsOf[Deliver](acts)); n != 0 {
		t.Errorf("delivered again: %d", n)
	}
	if dup := w.e.Stats().BytesDup; dup != segSize {
		t.Errorf("BytesDup = %d, want %d", dup, segSize)
	}
	// Pieces arriving one by one: Deliver only with the last.
	for i := segPieces - 1; i >= 0; i-- {
		w.step(EdgeFetched{Seq: 102, First: i, Count: 1, Data: pieceData(102, i)})
		if n := len(actionsOf[Deliver](w.ready())); n != map[bool]int{true: 1, false: 0}[i == 0] {
			t.Fatalf("after piece %d: %d Delivers", i, n)
		}
	}
	if d := w.delivered[102]; len(d) != 0 {
		t.Fatal("bookkeeping")
	}
	if d := actionsOf[Deliver](w.log); !bytes.Equal(d[len(d)-1].Data, segData(102)) {
		t.Error("102 delivered with the wrong bytes")
	}
	if st := w.e.Stats(); st.Complete != 2 {
		t.Errorf("Complete = %d, want 2", st.Complete)
	}
	w.step(playlist(102, farSeq+1))
	acts = w.ready()
	if got := actionsOf[Forget](acts); !slices.Equal(got, []Forget{{segID(100)}, {segID(101)}}) {
		t.Errorf("Forgets = %v, want 100 and 101", got)
	}
	if _, ok := w.e.Segment(startSeq, testEpoch); ok {
		t.Error("101 still in the window")
	}
	if _, ok := w.e.Segment(farSeq+1, testEpoch); !ok {
		t.Error("104 not in the window")
	}
}

// NoDeliverData: Deliver carries no bytes.
func TestNoDeliverData(t *testing.T) {
	cfg := testConfig()
	cfg.NoDeliverData = true
	w := newWorld(t, cfg)
	w.start()
	if d := w.delivered[startSeq]; len(d) != 1 || d[0] != nil {
		t.Errorf("Deliver carried %d bytes", len(d[0]))
	}
}

// An edge answer can outlive the segment it was for: the stream restarted
// (a new epoch at the same seq, a smaller segment) while the fetch was out.
// EdgeFetched names no epoch, so the core must not trust its range.
func TestEdgeAnswerAfterEpochChange(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.edgeHold = map[uint64]bool{farSeq: true}
	w.runFor(7 * time.Second) // 103 turns urgent at t0+6.5s
	old := actionsOf[FetchEdge](w.log)
	old = slices.DeleteFunc(old, func(f FetchEdge) bool { return f.Seq != farSeq })
	if len(old) == 0 || old[len(old)-1].First+old[len(old)-1].Count != segPieces {
		t.Fatalf("edge fetches of 103: %+v, want one ending at its last piece", old)
	}
	f := old[len(old)-1]
	// The playlist now lists 103 in epoch e2: one short piece.
	small := []byte("restarted")
	en := Entry{Seq: farSeq, Epoch: "e2", URI: testRend + "/e2-103.ts", Dur: segDur}
	w.step(PlaylistFetched{Target: segDur, Entries: []Entry{en}})
	w.ready()
	w.step(RecordFetched{Seq: farSeq, Rec: manifest.New(testStream, testRend, "e2", farSeq, en.URI, segDur, small)})
	w.ready()
	w.serveEdge(f) // the old epoch's bytes
	acts := w.pump()
	if n := len(actionsOf[Deliver](acts)); n != 0 {
		t.Errorf("delivered %d segments from the old epoch's bytes", n)
	}
	if s := w.e.segs[farSeq]; s == nil || s.id.Epoch != "e2" || s.have.Count() != 0 {
		t.Error("the new segment took the old epoch's bytes")
	}
}

// A HAVE leaves out what its receiver announced itself (HAVE suppression):
// b announced pieces 2 and 3 of farSeq and hears of the rest only; c hears of all.
func TestHaveSuppression(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	w.connect("b", lb, staller, false)
	w.connect("c", lc, staller, false)
	w.frame(lb, wire.Have{Segment: segID(farSeq), First: 2, Count: 2})
	w.ready()
	w.edgeGive(farSeq)
	acts := w.ready()
	var toB []wire.Have
	for _, h := range sentOf[wire.Have](acts, lb) {
		if h.Segment.Seq == farSeq {
			toB = append(toB, h)
		}
	}
	wantB := []wire.Have{{Segment: segID(farSeq), First: 0, Count: 2}, {Segment: segID(farSeq), First: 4, Count: segPieces - 4}}
	if !slices.Equal(toB, wantB) {
		t.Errorf("HAVEs to b %v, want %v", toB, wantB)
	}
	var toC []wire.Have
	for _, h := range sentOf[wire.Have](acts, lc) {
		if h.Segment.Seq == farSeq {
			toC = append(toC, h)
		}
	}
	if wantC := []wire.Have{{Segment: segID(farSeq), First: 0, Count: segPieces}}; !slices.Equal(toC, wantC) {
		t.Errorf("HAVEs to c %v, want %v", toC, wantC)
	}
}

// A piece that waited for room at its only holder (the plan was Blocked) is
// asked for as soon as a piece from that holder arrives, not at the next
// Wake: a piece's arrival replans only when a plan left one waiting.
func TestBlockedPieceAskedOnArrival(t *testing.T) {
	w := newWorld(t, noUpload())
	w.start()
	w.connect("b", lb, staller, true) // the test answers for it
	w.announce(lb, farSeq)
	first := requested(sentOf[wire.Request](w.pump(), lb), farSeq)
	if len(first) == 0 || len(first) == segPieces {
		t.Fatalf("first requests %v: want some but not all %d pieces (the in-flight bound)", first, segPieces)
	}
	w.now = w.now.Add(20 * time.Millisecond)
	w.frame(lb, wire.Piece{Segment: segID(farSeq), Index: uint32(first[0]), Data: pieceData(farSeq, first[0])})
	next := requested(sentOf[wire.Request](w.pump(), lb), farSeq)
	if len(next) != 1 || slices.Contains(first, next[0]) {
		t.Errorf("after one piece arrived: requested %v, want the one piece left waiting (first %v)", next, first)
	}
}

// While the player plays on, a plan follows the last one by the plan gap at
// the earliest: an announcement right after a plan is asked for at the gap
// (the Wake), not lost and not before. Starting, every plan is at once
// (start above fetched its segment with no gap).
func TestPlanGap(t *testing.T) {
	cfg := testConfig()
	cfg.PlanGap = 0 // the default
	w := newWorld(t, cfg)
	w.start()
	if !w.e.pl.Steady() {
		t.Fatal("the player should play on after start")
	}
	w.now = w.now.Add(time.Second)
	w.connect("b", lb, staller, true)
	planned := w.e.lastPlan
	if !planned.Equal(w.now) {
		t.Fatalf("the link coming up planned at %v, want now %v", planned, w.now)
	}
	w.announce(lb, farSeq-1)
	if got := sentOf[wire.Request](w.pump(), lb); len(got) != 0 {
		t.Fatalf("requested %v within the gap of the last plan", got)
	}
	if got, want := w.e.Wake(), planned.Add(DefaultPlanGap); !got.Equal(want) {
		t.Fatalf("Wake %v after the gap's plan was put off, want %v", got.Sub(planned), want.Sub(planned))
	}
	w.now = w.e.Wake()
	if got := requested(sentOf[wire.Request](w.pump(), lb), farSeq-1); len(got) == 0 {
		t.Fatal("nothing requested at the end of the gap")
	}
}

// A REJECT over_cap plans again only when a refused piece has another holder
// that could take it now; with none the plan would decide nothing, so none
// is made, and the next is no later than the segment's urgent moment.
func TestRejectOverCapPlans(t *testing.T) {
	for _, other := range []bool{true, false} {
		t.Run(map[bool]string{true: "other holder", false: "no other holder"}[other], func(t *testing.T) {
			w := newWorld(t, noUpload())
			w.start()
			w.connect("b", lb, staller, true)
			w.connect("c", lc, staller, true)
			w.announce(lb, farSeq)
			got := requested(sentOf[wire.Request](w.pump(), lb), farSeq)
			if len(got) == 0 {
				t.Fatal("nothing requested of b")
			}
			p := got[0]
			if other { // asked of b already: no plan for this
				w.frame(lc, wire.Have{Segment: segID(farSeq), First: uint32(p), Count: 1})
				w.pump()
			}
			plans := w.e.stats.Plans
			w.frame(lb, wire.Reject{Segment: segID(farSeq), First: uint32(p), Count: 1, Reason: wire.ReasonOverCap})
			acts := w.pump()
			fromC := requested(sentOf[wire.Request](acts, lc), farSeq)
			if other {
				if !slices.Equal(fromC, []int{p}) {
					t.Errorf("after b refused piece %d: asked c for %v, want it", p, fromC)
				}
				return
			}
			if w.e.stats.Plans != plans || len(fromC) != 0 {
				t.Errorf("%d plans (asked c for %v) after a refusal nobody else could take", w.e.stats.Plans-plans, fromC)
			}
			dl, _ := w.e.deadline(w.e.segs[farSeq])
			if ua := dl.Add(-w.e.urgent); w.e.Wake().After(ua) {
				t.Errorf("Wake %v after the refused piece's urgent moment %v", w.e.Wake(), ua)
			}
		})
	}
}
