package player

import (
	"errors"
	"testing"
	"time"
)

// title publishes n segments of 2 s, all at t0, as an ended on-demand title.
func title(t *testing.T, p *Player, n int, t0 time.Time) {
	t.Helper()
	if !p.StartVOD() {
		t.Fatal("StartVOD refused before the start was decided")
	}
	for i := range n {
		if err := p.Publish(Segment{Seq: uint64(i), Duration: 2 * time.Second, Published: t0}); err != nil {
			t.Fatal(err)
		}
	}
	p.End()
}

func mustDeadline(t *testing.T, p *Player, seq uint64, want time.Time) {
	t.Helper()
	dl, ok := p.Deadline(seq)
	if !ok || !dl.Equal(want) {
		t.Fatalf("Deadline(%d) = %v, %v; want %v", seq, dl, ok, want)
	}
}

func noDeadline(t *testing.T, p *Player, seq uint64) {
	t.Helper()
	if dl, ok := p.Deadline(seq); ok {
		t.Fatalf("Deadline(%d) = %v, want none", seq, dl)
	}
}

func TestVODStartAtPosition(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := New(Config{Start: 15 * time.Second}, t0)
	title(t, p, 20, t0)
	p.Advance(t0)
	if seq, ok := p.Playhead(); !ok || seq != 7 {
		t.Fatalf("playhead %d %v, want segment 7 (14-16 s)", seq, ok)
	}
	mustDeadline(t, p, 7, t0)
	mustDeadline(t, p, 8, t0.Add(time.Second)) // playback will begin 1 s into 7
	noDeadline(t, p, 6)
	p.Available(7, t0.Add(100*time.Millisecond))
	p.Advance(t0.Add(100 * time.Millisecond))
	st := p.Stats()
	if !st.Started || st.StartSeq != 7 || st.Startup != 100*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
	// Playback began 1 s into segment 7: segment 8 is due 1 s later.
	mustDeadline(t, p, 8, t0.Add(1100*time.Millisecond))
	if pos := p.Position(); pos != 15*time.Second {
		t.Fatalf("position %v, want 15s", pos)
	}
	if st.Latency != 0 || len(p.LatencySamples()) != 0 {
		t.Fatalf("on demand has no live latency: %v %v", st.Latency, p.LatencySamples())
	}
}

func TestVODSeek(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := New(Config{}, t0)
	title(t, p, 30, t0)
	for i := range 12 {
		p.Available(uint64(i), t0)
	}
	p.Advance(t0.Add(20 * time.Second)) // 10 segments played
	if seq, _ := p.Playhead(); seq != 10 {
		t.Fatalf("playhead %d, want 10", seq)
	}
	now := t0.Add(20 * time.Second)
	if err := p.Seek(now, 41*time.Second); err != nil {
		t.Fatal(err)
	}
	// The new position is due now; what the old position wanted is not.
	mustDeadline(t, p, 20, now)
	mustDeadline(t, p, 21, now.Add(time.Second)) // playback resumes 1 s into 20
	noDeadline(t, p, 11)
	p.Available(20, now.Add(300*time.Millisecond))
	p.Advance(now.Add(time.Second))
	st := p.Stats()
	if st.Seeks != 1 || st.SeekTime != 300*time.Millisecond || st.Stalls != 0 {
		t.Fatalf("after the seek: %+v", st)
	}
	if pos := p.Position(); pos != 41*time.Second+700*time.Millisecond {
		t.Fatalf("position %v, want 41.7s", pos)
	}
	// Nothing was pruned: a seek back to the start finds segment 0, still
	// available, and resumes at once.
	now = now.Add(time.Second)
	if err := p.Seek(now, 0); err != nil {
		t.Fatal(err)
	}
	p.Advance(now)
	if st := p.Stats(); st.Seeks != 2 || st.SeekTime != 0 {
		t.Fatalf("seek back: %+v", st)
	}
	if got := p.SeekSamples(); len(got) != 2 || got[0] != 300*time.Millisecond || got[1] != 0 {
		t.Fatalf("seek samples %v", got)
	}
	// An evicted segment is waited for again.
	p.Evicted(1)
	p.Advance(now.Add(2 * time.Second))
	if st := p.Stats(); st.Stalls != 1 {
		t.Fatalf("segment 1 was evicted: want a stall, got %+v", st)
	}
}

func TestVODEnd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := New(Config{Start: 50 * time.Second}, t0)
	title(t, p, 30, t0) // 60 s
	for i := 25; i < 30; i++ {
		p.Available(uint64(i), t0)
	}
	p.Advance(t0.Add(time.Minute))
	st := p.Stats()
	if !st.Finished || st.Stalls != 0 || st.Played != 5 {
		t.Fatalf("at the end: %+v", st)
	}
	noDeadline(t, p, 29)
	// A seek after the end plays again.
	if err := p.Seek(t0.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	mustDeadline(t, p, 0, t0.Add(time.Minute))
	if p.Stats().Finished {
		t.Fatal("still finished after a seek")
	}
}

// A live stream that ends while its player waits for the next segment:
// that was the end, not a stall.
func TestLiveEndUndoesStall(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := New(Config{}, t0)
	for i := range 4 {
		p.Publish(Segment{Seq: uint64(i), Duration: 2 * time.Second, Published: t0})
		p.Available(uint64(i), t0)
	}
	p.Advance(t0.Add(time.Minute))
	if st := p.Stats(); st.Stalls != 1 {
		t.Fatalf("live, waiting for more: %+v", st)
	}
	p.End()
	p.Advance(t0.Add(2 * time.Minute))
	if st := p.Stats(); st.Stalls != 0 || !st.Finished {
		t.Fatalf("after the end: %+v", st)
	}
	if err := p.Seek(t0, 0); !errors.Is(err, ErrNotVOD) {
		t.Fatalf("seek on live: %v", err)
	}
}

// TestVODSeekNearSegmentEnd: a seek 24 ms before a segment's end resumes only when
// the next segment is there too (an element cannot play 24 ms and go on), so the
// next one arriving after the first is seek time, not a stall. The last segment of
// the title needs nothing after it.
func TestVODSeekNearSegmentEnd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := New(Config{}, t0)
	title(t, p, 10, t0)
	p.Available(0, t0)
	p.Advance(t0.Add(time.Second))
	now := t0.Add(time.Second)
	if err := p.Seek(now, 8*time.Second-24*time.Millisecond); err != nil { // in segment 3
		t.Fatal(err)
	}
	mustDeadline(t, p, 4, now.Add(24*time.Millisecond))
	p.Available(3, now.Add(100*time.Millisecond))
	p.Advance(now.Add(150 * time.Millisecond))
	if st := p.Stats(); st.Seeks != 1 || st.SeekTime != 0 || p.Steady() {
		t.Fatalf("resumed with 24 ms to play: %+v", st)
	}
	p.Available(4, now.Add(200*time.Millisecond))
	p.Advance(now.Add(time.Second))
	if st := p.Stats(); st.SeekTime != 200*time.Millisecond || st.Stalls != 0 {
		t.Fatalf("after the next segment: %+v", st)
	}
	// Near the end of the last segment: resumes with it alone.
	now = now.Add(time.Second)
	if err := p.Seek(now, 20*time.Second-10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	p.Available(9, now.Add(50*time.Millisecond))
	p.Advance(now.Add(100 * time.Millisecond))
	if st := p.Stats(); st.Seeks != 2 || st.SeekTime != 50*time.Millisecond || !st.Finished {
		t.Fatalf("seek to the title's last 10 ms: %+v", st)
	}
}
