package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

const titleSegs = 30 // a 120 s title of 4 s segments, seq 0..29

func titlePlaylist() PlaylistFetched {
	var es []Entry
	for s := uint64(0); s < titleSegs; s++ {
		es = append(es, Entry{Seq: s, Epoch: testEpoch, URI: segURI(s), Dur: segDur})
	}
	return PlaylistFetched{Target: segDur, Entries: es, Ended: true}
}

func vodConfig(v VODConfig) Config {
	cfg := testConfig()
	cfg.VOD = v
	return cfg
}

// startTitle: the ended playlist, a session, the start segment from the edge.
func (w *world) startTitle(startSeq uint64) {
	w.t.Helper()
	if acts := w.ready(); !slices.Equal(acts, []Action{FetchPlaylist{}}) {
		w.t.Fatalf("first Ready = %v, want one FetchPlaylist", acts)
	}
	w.step(titlePlaylist())
	w.startSession(1)
	w.pump()
	if !w.e.VOD() {
		t := w.t
		t.Fatal("an ended first playlist did not make a title")
	}
	if got := w.delivered[startSeq]; len(got) != 1 {
		w.t.Fatalf("start segment %d delivered %d times, want 1", startSeq, len(got))
	}
}

func recordSeqs(acts []Action) []uint64 {
	var out []uint64
	for _, r := range actionsOf[FetchRecord](acts) {
		out = append(out, r.ID.Seq)
	}
	slices.Sort(out)
	return out
}

// A title starts at VOD.Start, looks only as far ahead as the buffer goal,
// never polls its ended playlist again, and keeps every segment listed.
func TestVODStartAndGoal(t *testing.T) {
	w := newWorld(t, vodConfig(VODConfig{Start: 41 * time.Second, BufferGoal: 12 * time.Second}))
	w.startTitle(10) // 40-44 s
	// Due at +0, +4, +8, +12 s: within the goal; 14 (+16 s) and 9 (behind) are not.
	if got, want := recordSeqs(w.log), []uint64{10, 11, 12, 13}; !slices.Equal(got, want) {
		t.Fatalf("records fetched %v, want %v", got, want)
	}
	w.runFor(30 * time.Second)
	if n := len(actionsOf[FetchPlaylist](w.log)); n != 1 {
		t.Fatalf("%d playlist fetches of an ended playlist, want 1", n)
	}
	for seq := uint64(10); seq <= 18; seq++ {
		if len(w.delivered[seq]) != 1 {
			t.Fatalf("segment %d delivered %d times by t+30s", seq, len(w.delivered[seq]))
		}
	}
	if len(w.delivered[9]) != 0 || len(w.delivered[22]) != 0 {
		t.Fatal("a segment outside [playhead, goal] was fetched")
	}
	if len(w.e.segs) != titleSegs {
		t.Fatalf("window has %d segments, want the whole title (%d)", len(w.e.segs), titleSegs)
	}
	if n := len(actionsOf[Forget](w.log)); n != 0 {
		t.Fatalf("%d segments forgotten within the budget", n)
	}
	st := w.e.Stats()
	if st.Player.Stalls != 0 || st.Player.StartSeq != 10 {
		t.Fatalf("player %+v", st.Player)
	}
}

// A seek makes the new position due now (from the edge) and cancels what the
// old position had asked of neighbours.
func TestVODSeekCancels(t *testing.T) {
	w := newWorld(t, vodConfig(VODConfig{BufferGoal: 12 * time.Second}))
	w.startTitle(0)
	w.connect("b", 1, staller, true)
	w.announce(1, 3) // due at +12 s: not urgent, held by b
	w.pump()
	asked := requested(sentOf[wire.Request](w.log, 1), 3)
	if len(asked) == 0 {
		t.Fatal("nothing of 3 requested of b")
	}
	w.edge = nil
	w.step(Seek{Pos: 101 * time.Second}) // segment 25
	w.now = w.now.Add(time.Millisecond)
	w.pump()
	if got := cancelled(sentOf[wire.Cancel](w.log, 1), 3); !slices.Equal(got, asked) {
		t.Fatalf("cancelled %v of 3 after the seek, want %v", got, asked)
	}
	if got := edgePieces(w.edge, 25, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
		t.Fatalf("segment 25 from the edge: %v, want all, urgent", got)
	}
	w.runFor(time.Second)
	st := w.e.Stats().Player
	if st.Seeks != 1 || st.SeekTime > 2*time.Millisecond || st.Stalls != 0 {
		t.Fatalf("after the seek: %+v", st)
	}
	// A local player asking for a segment far from the playhead is a seek too.
	w.step(Demand{Seq: 5, Epoch: testEpoch})
	w.pump()
	if st := w.e.Stats().Player; st.Seeks != 2 || len(w.delivered[5]) != 1 {
		t.Fatalf("after the demand: seeks %d, 5 delivered %d times", st.Seeks, len(w.delivered[5]))
	}
}

// Beyond KeepBytes the segments watched longest ago are dropped and
// withdrawn, but stay listed: a seek back fetches them again.
func TestVODKeepBytes(t *testing.T) {
	w := newWorld(t, vodConfig(VODConfig{BufferGoal: 8 * time.Second, KeepBytes: 5 * segSize}))
	w.startTitle(0)
	w.runFor(24 * time.Second)
	w.connect("b", 1, honest, true) // (it answers no PING: connected for less than pongTimeout)
	w.runFor(8 * time.Second)       // 8 segments played
	st := w.e.Stats()
	if st.VODHeld > 5*segSize || st.VODDropped == 0 {
		t.Fatalf("held %d bytes (budget %d), dropped %d", st.VODHeld, 5*segSize, st.VODDropped)
	}
	var withdrawn []uint64
	for _, m := range sentOf[wire.BitfieldMsg](w.log, 1) {
		if m.Pieces == 0 {
			withdrawn = append(withdrawn, m.Segment.Seq)
		}
	}
	var forgot []uint64
	for _, f := range actionsOf[Forget](w.log) {
		forgot = append(forgot, f.ID.Seq)
	}
	if len(withdrawn) == 0 || !slices.Equal(withdrawn, forgot[len(forgot)-len(withdrawn):]) || !slices.IsSorted(forgot) {
		t.Fatalf("withdrawn %v, forgotten %v: want the oldest first, each once", withdrawn, forgot)
	}
	if len(w.e.segs) != titleSegs {
		t.Fatalf("window has %d segments, want %d", len(w.e.segs), titleSegs)
	}
	w.edge = nil
	w.step(Seek{Pos: 0})
	w.now = w.now.Add(time.Millisecond)
	w.pump()
	if got := edgePieces(w.edge, 0, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
		t.Fatalf("seek back to a dropped segment: edge %v, want all of 0", got)
	}
	if len(w.delivered[0]) != 2 {
		t.Fatalf("segment 0 delivered %d times, want again", len(w.delivered[0]))
	}
}

// A live stream that ends is not a title: it keeps live rules but polls no
// more.
func TestLiveEndStopsPolling(t *testing.T) {
	w := newWorld(t, testConfig())
	w.start()
	pl := playlist(100, farSeq)
	pl.Ended = true
	w.step(pl)
	w.runFor(20 * time.Second)
	if w.e.VOD() {
		t.Fatal("an ended live stream became a title")
	}
	if n := len(actionsOf[FetchPlaylist](w.log)); n != 1 {
		t.Fatalf("%d playlist fetches, want none after the end", n-1)
	}
	if st := w.e.Stats().Player; st.Stalls != 0 || !st.Finished {
		t.Fatalf("player at the end: %+v", st)
	}
}
