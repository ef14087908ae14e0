package player

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const td = 2 * time.Second

// published is when segment seq (2 s each, the first starting at t0) appears.
func published(seq uint64) time.Time { return t0.Add(time.Duration(seq+1) * td) }

// run joins at join and steps the model every 100 ms until end. Segment seq
// becomes available delay(seq) after max(published, join).
func run(t *testing.T, cfg Config, join, end time.Time, delay func(seq uint64) time.Duration) *Player {
	t.Helper()
	p := New(cfg, join)
	type ev struct {
		at  time.Time
		seq uint64
	}
	var avail []ev
	var seq uint64
	for now := join; !now.After(end); now = now.Add(100 * time.Millisecond) {
		for ; !published(seq).After(now); seq++ {
			if err := p.Publish(Segment{Seq: seq, Duration: td, Published: published(seq)}); err != nil {
				t.Fatal(err)
			}
			from := published(seq)
			if join.After(from) {
				from = join
			}
			avail = append(avail, ev{from.Add(delay(seq)), seq})
		}
		avail = slices.DeleteFunc(avail, func(e ev) bool {
			if e.at.After(now) {
				return false
			}
			p.Available(e.seq, e.at)
			return true
		})
		p.Advance(now)
	}
	return p
}

func TestPlayer(t *testing.T) {
	join := t0.Add(10 * time.Second) // seqs 0..4 published; live edge at media 10 s
	tests := []struct {
		name     string
		cfg      Config
		join     time.Time
		delay    func(uint64) time.Duration
		startSeq uint64
		startup  time.Duration
		stalls   int
		stalled  time.Duration
		latency  time.Duration // last sample
	}{
		{
			name:     "fast downloads: start 3 target durations behind, never stall",
			delay:    func(uint64) time.Duration { return 300 * time.Millisecond },
			startSeq: 2, startup: 300 * time.Millisecond, latency: 6300 * time.Millisecond,
		},
		{
			name: "one late segment: one stall of exactly its lateness",
			delay: func(s uint64) time.Duration {
				if s == 6 {
					// needed at 10.3 + 4×2 = 18.3 s; published at 14 s
					return 5300 * time.Millisecond // → 19.3 s
				}
				return 300 * time.Millisecond
			},
			startSeq: 2, startup: 300 * time.Millisecond, stalls: 1, stalled: time.Second,
			latency: 7300 * time.Millisecond,
		},
		{
			name:     "live sync count 1: one target duration behind",
			cfg:      Config{LiveSyncCount: 1},
			delay:    func(uint64) time.Duration { return 0 },
			startSeq: 4, latency: 2 * time.Second,
		},
		{
			name:     "joined before the stream began: starts at the first segment",
			join:     t0.Add(-5 * time.Second),
			delay:    func(uint64) time.Duration { return 100 * time.Millisecond },
			startSeq: 0, startup: 7100 * time.Millisecond, latency: 2100 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := join
			if !tt.join.IsZero() {
				j = tt.join
			}
			p := run(t, tt.cfg, j, j.Add(30*time.Second), tt.delay)
			st := p.Stats()
			if !st.Started || st.StartSeq != tt.startSeq || st.Startup != tt.startup {
				t.Errorf("start: started %v seq %d after %v, want seq %d after %v", st.Started, st.StartSeq, st.Startup, tt.startSeq, tt.startup)
			}
			if st.Stalls != tt.stalls || st.Stalled != tt.stalled {
				t.Errorf("stalls %d for %v, want %d for %v", st.Stalls, st.Stalled, tt.stalls, tt.stalled)
			}
			if st.Latency != tt.latency {
				t.Errorf("latency %v, want %v", st.Latency, tt.latency)
			}
			if want := 30*time.Second - tt.startup; st.Watched != want {
				t.Errorf("watched %v, want %v", st.Watched, want)
			}
			if want := float64(tt.stalled) / float64(st.Watched); st.RebufferRatio != want {
				t.Errorf("rebuffer ratio %v, want %v", st.RebufferRatio, want)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	p := New(Config{}, t0.Add(10*time.Second))
	for s := range uint64(5) {
		if err := p.Publish(Segment{Seq: s, Duration: td, Published: published(s)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := p.Deadline(2); ok {
		t.Fatal("deadline before the start position is decided")
	}
	p.Advance(t0.Add(10 * time.Second))
	// Startup: the start segment is needed now, the next ones after it.
	for s, want := range map[uint64]time.Duration{2: 10 * time.Second, 3: 12 * time.Second, 4: 14 * time.Second} {
		if d, ok := p.Deadline(s); !ok || !d.Equal(t0.Add(want)) {
			t.Errorf("startup: deadline(%d) = %v %v, want t0+%v", s, d.Sub(t0), ok, want)
		}
	}
	if _, ok := p.Deadline(1); ok {
		t.Error("deadline for a segment before the start")
	}
	if _, ok := p.Deadline(9); ok {
		t.Error("deadline for an unpublished segment")
	}
	// Playing from 10.5 s: seq 3 is needed at 12.5 s.
	p.Available(2, t0.Add(10500*time.Millisecond))
	p.Available(3, t0.Add(11*time.Second))
	p.Advance(t0.Add(11 * time.Second))
	if d, _ := p.Deadline(3); !d.Equal(t0.Add(12500 * time.Millisecond)) {
		t.Errorf("playing: deadline(3) = t0+%v, want 12.5s", d.Sub(t0))
	}
	if _, ok := p.Deadline(2); ok {
		t.Error("deadline for the segment being played")
	}
	// Stalled on seq 4 since 14.5 s: it is needed now, seq 5 two seconds later.
	p.Publish(Segment{Seq: 5, Duration: td, Published: published(5)})
	p.Advance(t0.Add(15 * time.Second))
	if d, _ := p.Deadline(4); !d.Equal(t0.Add(15 * time.Second)) {
		t.Errorf("stalled: deadline(4) = t0+%v, want 15s", d.Sub(t0))
	}
	if d, _ := p.Deadline(5); !d.Equal(t0.Add(17 * time.Second)) {
		t.Errorf("stalled: deadline(5) = t0+%v, want 17s", d.Sub(t0))
	}
	if seq, _ := p.Playhead(); seq != 4 {
		t.Errorf("playhead %d, want 4", seq)
	}
	if st := p.Stats(); st.Stalls != 1 || st.Stalled != 500*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

func TestWaitsForPublication(t *testing.T) {
	// One target duration behind, the player catches up with the live edge
	// when the origin publishes late, and stalls until the next segment is
	// published and downloaded.
	p := New(Config{LiveSyncCount: 1}, t0.Add(10*time.Second))
	for s := range uint64(5) {
		p.Publish(Segment{Seq: s, Duration: td, Published: published(s)})
	}
	p.Available(4, t0.Add(10*time.Second))
	p.Advance(t0.Add(13 * time.Second))
	if st := p.Stats(); st.Stalls != 1 || st.Stalled != time.Second {
		t.Fatalf("waiting for publication: %+v", st)
	}
	if seq, _ := p.Playhead(); seq != 5 {
		t.Fatalf("playhead %d, want 5", seq)
	}
	p.Publish(Segment{Seq: 5, Duration: td, Published: t0.Add(13500 * time.Millisecond)})
	p.Available(5, t0.Add(13600*time.Millisecond))
	p.Advance(t0.Add(14 * time.Second))
	st := p.Stats()
	if st.Stalls != 1 || st.Stalled != 1600*time.Millisecond || st.Played != 1 {
		t.Fatalf("after resuming: %+v", st)
	}
	if st.Latency != 100*time.Millisecond+2*time.Second {
		t.Fatalf("latency %v", st.Latency)
	}
}

func TestLateReportIsNoStall(t *testing.T) {
	p := New(Config{}, t0.Add(10*time.Second))
	for s := range uint64(6) {
		p.Publish(Segment{Seq: s, Duration: td, Published: published(s)})
	}
	p.Available(2, t0.Add(10*time.Second))
	p.Advance(t0.Add(13 * time.Second)) // seq 3 needed at 12 s, not reported yet
	p.Available(3, t0.Add(11*time.Second))
	p.Advance(t0.Add(13 * time.Second))
	p.Advance(t0.Add(13500 * time.Millisecond))
	if st := p.Stats(); st.Stalls != 0 || st.Stalled != 0 {
		t.Fatalf("late report counted as a stall: %+v", st)
	}
}

func TestPublishErrors(t *testing.T) {
	p := New(Config{}, t0)
	if err := p.Publish(Segment{Seq: 1, Duration: 0}); !errors.Is(err, ErrDuration) {
		t.Errorf("zero duration: %v", err)
	}
	if err := p.Publish(Segment{Seq: 5, Duration: td}); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(Segment{Seq: 5, Duration: td}); err != nil {
		t.Errorf("repeat: %v", err)
	}
	if err := p.Publish(Segment{Seq: 4, Duration: td}); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("out of order: %v", err)
	}
}

func TestBoundedMemory(t *testing.T) {
	p := run(t, Config{MaxSamples: 16}, t0.Add(10*time.Second), t0.Add(2*time.Hour),
		func(uint64) time.Duration { return 100 * time.Millisecond })
	if n := len(p.segs); n > 10 {
		t.Errorf("%d segments kept", n)
	}
	if n := len(p.LatencySamples()); n != 16 {
		t.Errorf("%d latency samples, want 16", n)
	}
	if st := p.Stats(); st.Stalls != 0 || st.Played < 3500 {
		t.Errorf("stats %+v", st)
	}
}

// TestRealTimeInBubble drives the model from goroutines that sleep, with the
// clock of a synctest bubble: the same code a real-time caller would run.
func TestRealTimeInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		segs := make(chan Segment, 16)
		done := make(chan uint64, 16)
		go func() { // origin: a segment every 2 s
			for s := uint64(0); s < 10; s++ {
				time.Sleep(td)
				segs <- Segment{Seq: s, Duration: td, Published: time.Now()}
			}
			close(segs)
		}()
		var p *Player
		time.Sleep(7 * time.Second) // join at 7 s: seqs 0..2 published
		p = New(Config{}, time.Now())
		for {
			select {
			case s, ok := <-segs:
				if !ok {
					segs = nil
					continue
				}
				p.Publish(s)
				go func() { // downloader: 250 ms per segment
					time.Sleep(250 * time.Millisecond)
					done <- s.Seq
				}()
			case seq := <-done:
				p.Available(seq, time.Now())
			case <-time.After(50 * time.Millisecond):
			}
			p.Advance(time.Now())
			if time.Since(start) > 21*time.Second {
				break
			}
		}
		st := p.Stats()
		// Segments 0..2 were queued before the join; seq 0 (start: 6 s − 6 s)
		// completes 250 ms after it was handed to the downloader at 7 s.
		if !st.Started || st.StartSeq != 0 || st.Startup != 250*time.Millisecond || st.Stalls != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestGenSteady: while the player is Steady and its Gen unchanged, every
// Deadline answer stays the same as time passes (what lets the engine skip
// recomputing them); startup, a stall, a resumption and each new segment
// change Gen.
func TestGenSteady(t *testing.T) {
	p := New(Config{}, t0)
	deadlines := func() []time.Time {
		var out []time.Time
		for seq := range uint64(12) {
			dl, _ := p.Deadline(seq)
			out = append(out, dl)
		}
		return out
	}
	var seq uint64
	var lastGen uint64
	var last []time.Time
	lastSteady, checked, changes := false, 0, 0
	for now := t0; now.Before(t0.Add(20 * time.Second)); now = now.Add(37 * time.Millisecond) {
		for ; !published(seq).After(now); seq++ {
			if err := p.Publish(Segment{Seq: seq, Duration: td, Published: published(seq)}); err != nil {
				t.Fatal(err)
			}
			if seq != 5 { // 5 comes late: a stall
				p.Available(seq, published(seq).Add(300*time.Millisecond))
			}
		}
		if now.After(t0.Add(15 * time.Second)) {
			p.Available(5, now)
		}
		p.Advance(now)
		dls := deadlines()
		if p.Steady() && lastSteady && p.Gen() == lastGen {
			checked++
			if !slices.Equal(dls, last) {
				t.Fatalf("at %v: Steady, Gen %d unchanged, but deadlines moved:\n%v\n%v", now.Sub(t0), lastGen, last, dls)
			}
		}
		if p.Gen() != lastGen {
			changes++
		}
		last, lastGen, lastSteady = dls, p.Gen(), p.Steady()
	}
	if st := p.Stats(); st.Stalls == 0 || checked == 0 || changes < 8 {
		t.Errorf("stalls %d, steady checks %d, Gen changes %d: the run did not cover what it should", st.Stalls, checked, changes)
	}
}
