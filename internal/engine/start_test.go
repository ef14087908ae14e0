package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// startWithHolder starts w with neighbour b (mode, declared upload kbps)
// connected and holding the start segment before its record arrives, and
// returns the actions of the first plan that has the record.
func startWithHolder(t *testing.T, w *world, mode peerMode, kbps uint32) []Action {
	t.Helper()
	w.ready()
	w.step(playlist(100, farSeq))
	w.startSession(1)
	w.noRecords = true
	w.peers[lb] = &fakePeer{id: "b", link: lb, mode: mode}
	w.step(LinkUp{Session: w.sess, Link: lb, Remote: "b"})
	w.pump()
	w.frame(lb, wire.Hello{MaxVersion: wire.Version, Stream: testStream, Rendition: testRend, PeerID: "b", UploadKbps: kbps})
	w.frame(lb, wire.Unchoke{Serial: 1})
	w.announce(lb, startSeq)
	w.pump()
	w.noRecords = false
	w.step(RecordFetched{Seq: startSeq, Rec: w.record(startSeq)})
	return w.pump()
}

func TestStartFromSwarm(t *testing.T) {
	lastOf := func(n int) []int { return allPieces()[segPieces-n:] }
	t.Run("holder sends", func(t *testing.T) {
		w := newWorld(t, testConfig())
		acts := startWithHolder(t, w, honest, 4000) // its backlog takes 6 pieces: all 5
		if got := requested(sentOf[wire.Request](acts, lb), startSeq); !slices.Equal(got, allPieces()) {
			t.Errorf("asked b for %v of the start segment, want all", got)
		}
		if got := edgePieces(w.edge, startSeq, scheduler.ReasonUrgent); len(got) > 0 {
			t.Errorf("start pieces %v from the edge, want none", got)
		}
		if n := len(w.delivered[startSeq]); n != 1 {
			t.Errorf("start segment delivered %d times, want 1", n)
		}
	})
	t.Run("slow holder", func(t *testing.T) {
		w := newWorld(t, testConfig())
		// 1 Mbit/s: its 200 ms backlog takes one piece, the last.
		acts := startWithHolder(t, w, honest, 1000)
		if got := requested(sentOf[wire.Request](acts, lb), startSeq); !slices.Equal(got, lastOf(1)) {
			t.Errorf("asked b for %v, want %v", got, lastOf(1))
		}
		if got, want := edgePieces(w.edge, startSeq, scheduler.ReasonUrgent), allPieces()[:segPieces-1]; !slices.Equal(got, want) {
			t.Errorf("edge sent %v at once, want %v", got, want)
		}
		if n := len(w.delivered[startSeq]); n != 1 {
			t.Errorf("start segment delivered %d times, want 1", n)
		}
	})
	t.Run("holder stalls", func(t *testing.T) {
		w := newWorld(t, testConfig())
		startWithHolder(t, w, staller, 4000)
		begin := w.now
		if got := edgePieces(w.edge, startSeq, scheduler.ReasonUrgent); len(got) > 0 {
			t.Fatalf("start pieces %v from the edge at once, want none", got)
		}
		w.runFor(DefaultStartGrace + 50*time.Millisecond)
		if got := edgePieces(w.edge, startSeq, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
			t.Fatalf("after the grace the edge sent %v, want all", got)
		}
		var at time.Time
		for i, a := range w.log {
			if f, ok := a.(FetchEdge); ok && f.Seq == startSeq {
				at = w.at[i]
				break
			}
		}
		if wait := at.Sub(begin); wait > DefaultStartGrace {
			t.Errorf("edge asked %v after the first plan, want within the grace %v", wait, DefaultStartGrace)
		}
		if n := len(w.delivered[startSeq]); n != 1 {
			t.Errorf("start segment delivered %d times, want 1", n)
		}
	})
	t.Run("off", func(t *testing.T) {
		cfg := testConfig()
		cfg.StartGrace = -1
		w := newWorld(t, cfg)
		acts := startWithHolder(t, w, honest, 4000)
		if got := requested(sentOf[wire.Request](acts, lb), startSeq); len(got) > 0 {
			t.Errorf("asked b for %v of the start segment, want nothing", got)
		}
		if got := edgePieces(w.edge, startSeq, scheduler.ReasonUrgent); !slices.Equal(got, allPieces()) {
			t.Errorf("edge sent %v, want all", got)
		}
	})
}
