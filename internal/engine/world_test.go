package engine

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// The test world: one rendition whose playlist at t0 lists 100..103, 4 s
// each, 103 published at t0. The player model starts three target durations
// behind the live edge, in 101 (due at once: the edge fetches it at start),
// so 102 is due at t0+4s and 103 at t0+8s: 103 is the segment the swarm
// tests pull from neighbours, far from the 1.5 s urgent window.
const (
	testStream = "live"
	testRend   = "index"
	testEpoch  = "e1"
	segDur     = 4 * time.Second
	segPieces  = 5
	segSize    = (segPieces-1)*wire.PieceSize + 1000 // a short last piece
	startSeq   = 101                                 // the player's first segment
	farSeq     = 103                                 // due at t0+8s
	selfID     = "a"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// segData is segment seq's bytes: different for every seq and piece.
func segData(seq uint64) []byte {
	b := make([]byte, segSize)
	for i := range b {
		b[i] = byte(uint64(i)*31 + seq*7 + uint64(i/wire.PieceSize))
	}
	return b
}

func pieceData(seq uint64, i int) []byte {
	d := segData(seq)
	return d[i*wire.PieceSize : min((i+1)*wire.PieceSize, len(d))]
}

func segURI(seq uint64) string { return fmt.Sprintf("%s/%s-%d.ts", testRend, testEpoch, seq) }

func segID(seq uint64) wire.SegmentID { return wire.SegmentID{Epoch: testEpoch, Seq: seq} }

// entry lists seq with a PROGRAM-DATE-TIME that puts its publication at
// t0 + (seq-103)·4s, so the player model publishes the playlist at once.
func entry(seq uint64) Entry {
	pdt := t0.Add(time.Duration(int64(seq)-farSeq-1) * segDur)
	return Entry{Seq: seq, Epoch: testEpoch, URI: segURI(seq), Dur: segDur, PDT: pdt}
}

func playlist(from, to uint64) PlaylistFetched {
	var es []Entry
	for s := from; s <= to; s++ {
		es = append(es, entry(s))
	}
	return PlaylistFetched{Target: segDur, Entries: es}
}

func testConfig() Config {
	// Time stands still between a test's frames: every plan at once.
	return Config{Stream: testStream, Rendition: testRend, Swarm: true, UploadCapacity: 5_000_000, PlanGap: -1}
}

// fakePeer is a neighbour on the other end of a link, played by the test.
type fakePeer struct {
	id   string
	link LinkID
	mode peerMode
	got  []wire.Msg // every frame the engine sent it
	// why is the phantom's refusal (zero: not_held).
	why wire.Reason
}

type peerMode int

const (
	honest  peerMode = iota // answers every REQUEST with the right bytes
	staller                 // never answers
	liar                    // answers with bytes that fail verification
	phantom                 // announces what it lacks: REJECT not_held, then announces it again
)

type world struct {
	t     *testing.T
	e     *Engine
	now   time.Time
	key   ed25519.PrivateKey
	recs  map[uint64]*manifest.Record
	sess  SessionID
	peers map[LinkID]*fakePeer
	log   []Action // every action so far, in order
	at    []time.Time
	// Set by handle: what was delivered (seq → times), edge fetches.
	delivered map[uint64][][]byte
	edge      []FetchEdge
	noEdge    bool            // handle does not answer FetchEdge
	noRecords bool            // nor FetchRecord
	edgeHold  map[uint64]bool // nor FetchEdge of these seqs
}

func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "shoal engine test key")
	w := &world{t: t, now: t0, key: ed25519.NewKeyFromSeed(seed), recs: map[uint64]*manifest.Record{},
		peers: map[LinkID]*fakePeer{}, delivered: map[uint64][][]byte{}}
	w.e = New(cfg, t0)
	return w
}

// record is seq's signed record as the caller hands it over: built, signed
// with the origin's key and parsed back with the public key.
func (w *world) record(seq uint64) *manifest.Record {
	if r := w.recs[seq]; r != nil {
		return r
	}
	signed := manifest.New(testStream, testRend, testEpoch, seq, segURI(seq), segDur, segData(seq)).Sign(w.key)
	r, err := manifest.Parse(signed, w.key.Public().(ed25519.PublicKey))
	if err != nil {
		w.t.Fatalf("parse record: %v", err)
	}
	if r.Pieces() != segPieces {
		w.t.Fatalf("record has %d pieces, want %d", r.Pieces(), segPieces)
	}
	w.recs[seq] = r
	return r
}

func (w *world) step(ev Event) { w.e.Step(w.now, ev) }

// ready runs Ready now and logs its actions.
func (w *world) ready() []Action {
	acts := slices.Clone(w.e.Ready(w.now))
	for range acts {
		w.at = append(w.at, w.now)
	}
	w.log = append(w.log, acts...)
	return acts
}

// advance moves the clock by d and runs Ready.
func (w *world) advance(d time.Duration) []Action {
	w.now = w.now.Add(d)
	return w.ready()
}

// pump runs Ready and hands every action to handle, again while handle
// stepped events (answers come at the same instant), and returns them all.
func (w *world) pump() []Action {
	var all []Action
	for range 100 {
		acts := w.ready()
		if len(acts) == 0 {
			return all
		}
		all = append(all, acts...)
		for _, a := range acts {
			w.handle(a)
		}
	}
	w.t.Fatal("pump: the engine never settled")
	return nil
}

// runFor pumps every 10 ms for d.
func (w *world) runFor(d time.Duration) []Action {
	var all []Action
	end := w.now.Add(d)
	for !w.now.After(end) {
		all = append(all, w.pump()...)
		w.now = w.now.Add(10 * time.Millisecond)
	}
	w.now = end
	return all
}

// handle plays the outside world for one action: the edge and records
// answer at once, fake peers as their mode says.
func (w *world) handle(a Action) {
	switch a := a.(type) {
	case FetchRecord:
		if w.noRecords {
			return
		}
		w.step(RecordFetched{Seq: a.ID.Seq, Rec: w.record(a.ID.Seq)})
	case FetchEdge:
		w.edge = append(w.edge, a)
		if !w.noEdge && !w.edgeHold[a.Seq] {
			w.serveEdge(a)
		}
	case Deliver:
		w.delivered[a.ID.Seq] = append(w.delivered[a.ID.Seq], a.Data)
	case Send:
		p := w.peers[a.Link]
		if p == nil {
			return
		}
		p.got = append(p.got, a.Msg)
		if r, ok := a.Msg.(wire.Request); ok {
			for i := int(r.First); i < int(r.First+r.Count); i++ {
				switch p.mode {
				case honest:
					w.frame(p.link, wire.Piece{Segment: r.Segment, Index: uint32(i), Data: pieceData(r.Segment.Seq, i)})
				case liar:
					bad := bytes.Clone(pieceData(r.Segment.Seq, i))
					bad[0] ^= 0xff
					w.frame(p.link, wire.Piece{Segment: r.Segment, Index: uint32(i), Data: bad})
				case phantom:
					w.frame(p.link, wire.Reject{Segment: r.Segment, First: uint32(i), Count: 1, Reason: cmp.Or(p.why, wire.ReasonNotHeld)})
					w.frame(p.link, wire.Have{Segment: r.Segment, First: uint32(i), Count: 1})
				}
			}
		}
		if _, ok := a.Msg.(wire.Piece); ok {
			w.step(PieceSent{Link: a.Link})
		}
	}
}

// serveEdge answers a FetchEdge with the segment's bytes.
func (w *world) serveEdge(f FetchEdge) {
	d := segData(f.Seq)
	w.step(EdgeFetched{Seq: f.Seq, First: f.First, Count: f.Count, Data: d[f.Off : f.Off+f.Len],
		Asked: w.now, Headers: w.now, Done: w.now})
}

// edgeGive hands the engine segment seq whole, as if it had fetched it.
func (w *world) edgeGive(seq uint64) {
	w.step(EdgeFetched{Seq: seq, First: 0, Count: segPieces, Data: segData(seq), Asked: w.now, Headers: w.now, Done: w.now})
}

func (w *world) frame(l LinkID, m wire.Msg) { w.step(FrameReceived{Link: l, Msg: m}) }

// start: the first playlist, a tracker session, the records, and the first
// segment from the edge (it is due at once).
func (w *world) start() {
	w.t.Helper()
	if acts := w.ready(); !slices.Equal(acts, []Action{FetchPlaylist{}}) {
		w.t.Fatalf("first Ready = %v, want one FetchPlaylist", acts)
	}
	w.step(playlist(100, farSeq))
	w.startSession(1)
	w.pump()
	if got := w.delivered[startSeq]; len(got) != 1 {
		w.t.Fatalf("start segment delivered %d times, want 1", len(got))
	}
}

func (w *world) startSession(s SessionID) {
	w.sess = s
	w.step(SessionUp{Session: s, PeerID: selfID, Policy: Policy{P2P: true}})
}

// connect brings neighbour id up on link l and exchanges HELLOs; the
// neighbour unchokes us unless choked is set.
func (w *world) connect(id string, l LinkID, mode peerMode, unchoke bool) *fakePeer {
	w.t.Helper()
	p := &fakePeer{id: id, link: l, mode: mode}
	w.peers[l] = p
	w.step(LinkUp{Session: w.sess, Link: l, Remote: id})
	w.pump()
	if len(p.got) == 0 || p.got[0].Type() != wire.TypeHello {
		w.t.Fatalf("connect %s: first frame %v, want HELLO", id, p.got)
	}
	w.frame(l, wire.Hello{MaxVersion: wire.Version, Stream: testStream, Rendition: testRend, PeerID: id, UploadKbps: 4000})
	if unchoke {
		w.frame(l, wire.Unchoke{Serial: 1})
	}
	return p
}

// announce: neighbour on l holds all of seq.
func (w *world) announce(l LinkID, seq uint64) {
	w.frame(l, wire.Have{Segment: segID(seq), First: 0, Count: segPieces})
}

// Filters over actions.

func actionsOf[T Action](acts []Action) []T {
	var out []T
	for _, a := range acts {
		if t, ok := a.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func sentOf[T wire.Msg](acts []Action, l LinkID) []T {
	var out []T
	for _, s := range actionsOf[Send](acts) {
		if m, ok := s.Msg.(T); ok && s.Link == l {
			out = append(out, m)
		}
	}
	return out
}

func closed(acts []Action, l LinkID) bool {
	for _, c := range actionsOf[CloseLink](acts) {
		if c.Link == l {
			return true
		}
	}
	return false
}

// requested is the set of pieces of seq the REQUESTs (or CANCELs) cover.
func requested(rs []wire.Request, seq uint64) []int {
	var out []int
	for _, r := range rs {
		if r.Segment.Seq == seq {
			for i := r.First; i < r.First+r.Count; i++ {
				out = append(out, int(i))
			}
		}
	}
	slices.Sort(out)
	return out
}

func cancelled(cs []wire.Cancel, seq uint64) []int {
	var rs []wire.Request
	for _, c := range cs {
		rs = append(rs, wire.Request(c))
	}
	return requested(rs, seq)
}

// edgePieces is the set of pieces of seq asked of the edge for why.
func edgePieces(fs []FetchEdge, seq uint64, why scheduler.Reason) []int {
	var out []int
	for _, f := range fs {
		if f.Seq == seq && f.Why == why {
			for i := f.First; i < f.First+f.Count; i++ {
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out
}

func allPieces() []int {
	out := make([]int, segPieces)
	for i := range out {
		out[i] = i
	}
	return out
}
