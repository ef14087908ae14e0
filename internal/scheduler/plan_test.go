package scheduler

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// full returns a bitfield holding all n pieces.
func full(n int) Bitfield {
	b := NewBitfield(n)
	for i := range n {
		b.Set(i)
	}
	return b
}

func pieces(n int, ps ...int) Bitfield {
	b := NewBitfield(n)
	for _, p := range ps {
		b.Set(p)
	}
	return b
}

// seg is a segment of n full pieces due at t0+due.
func seg(seq uint64, n int, due time.Duration) Segment {
	return Segment{Seq: seq, Size: int64(n) * DefaultPieceSize, Deadline: t0.Add(due)}
}

func nb(id string, tput float64, have map[uint64]Bitfield) Neighbour {
	return Neighbour{ID: id, Throughput: tput, RTT: 20 * time.Millisecond, Have: HavesOf(have)}
}

const fast = 10 << 20 // bytes/s

func TestSchedule(t *testing.T) {
	p2p := Policy{P2P: true}
	tests := []struct {
		name     string
		st       State
		edge     []Run
		requests []Run
		cancels  []Pending
	}{
		{
			name: "urgent pieces come from the edge even when a neighbour has them",
			st: State{Now: t0, Policy: p2p,
				Segments:   []Segment{seg(1, 4, time.Second)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(4)})}},
			edge: []Run{{Edge, 1, 0, 4, ReasonUrgent}},
		},
		{
			name: "p2p off: everything from the edge",
			st: State{Now: t0, Policy: Policy{},
				Segments:   []Segment{seg(1, 4, 10*time.Second), seg(2, 3, 12*time.Second)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(4), 2: full(3)})}},
			edge: []Run{{Edge, 1, 0, 4, ReasonP2POff}, {Edge, 2, 0, 3, ReasonP2POff}},
		},
		{
			name: "p2p off cancels neighbour requests",
			st: State{Now: t0, Policy: Policy{},
				Segments:   []Segment{seg(1, 2, 10*time.Second)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(2)})},
				InFlight:   []Pending{{1, 0, "a", t0}}},
			edge:    []Run{{Edge, 1, 0, 2, ReasonP2POff}},
			cancels: []Pending{{1, 0, "a", t0}},
		},
		{
			name: "far-ahead pieces come from neighbours, skipping what we have",
			st: State{Now: t0, Policy: p2p,
				Segments:   []Segment{{Seq: 1, Size: 4 * DefaultPieceSize, Deadline: t0.Add(5 * time.Second), Have: pieces(4, 1)}},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(4)})}},
			requests: []Run{{"a", 1, 0, 1, ReasonNone}, {"a", 1, 2, 2, ReasonNone}},
		},
		{
			name: "choked peers are skipped",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{seg(1, 2, 5*time.Second)},
				Neighbours: []Neighbour{
					{ID: "a", Throughput: fast * 10, Choking: true, Have: HavesOf(map[uint64]Bitfield{1: full(2)})},
					nb("b", fast, map[uint64]Bitfield{1: full(2)}),
				}},
			requests: []Run{{"b", 1, 0, 2, ReasonNone}},
		},
		{
			name: "only a choking holder: wait, no request",
			st: State{Now: t0, Policy: p2p,
				Segments:   []Segment{seg(1, 2, 5*time.Second)},
				Neighbours: []Neighbour{{ID: "a", Choking: true, Have: HavesOf(map[uint64]Bitfield{1: full(2)})}}},
		},
		{
			name: "timed-out request is re-issued elsewhere and the loser cancelled",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{seg(1, 1, 5*time.Second)},
				Neighbours: []Neighbour{
					nb("a", fast, map[uint64]Bitfield{1: full(1)}),
					nb("b", fast/2, map[uint64]Bitfield{1: full(1)}),
				},
				InFlight: []Pending{{1, 0, "a", t0.Add(-2 * time.Second)}}},
			requests: []Run{{"b", 1, 0, 1, ReasonNone}},
			cancels:  []Pending{{1, 0, "a", t0.Add(-2 * time.Second)}},
		},
		{
			name: "request within its timeout is kept",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{seg(1, 1, 5*time.Second)},
				Neighbours: []Neighbour{
					nb("a", fast, map[uint64]Bitfield{1: full(1)}),
					nb("b", fast, map[uint64]Bitfield{1: full(1)}),
				},
				InFlight: []Pending{{1, 0, "a", t0.Add(-100 * time.Millisecond)}}},
		},
		{
			name: "neighbour request in flight may finish inside the urgent window",
			st: State{Now: t0, Policy: p2p,
				Segments:   []Segment{seg(1, 2, time.Second)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(2)})},
				InFlight:   []Pending{{1, 0, "a", t0}, {1, 1, Edge, t0}}},
		},
		{
			name: "neighbour request past the handover moves to the edge",
			st: State{Now: t0, Policy: p2p,
				Segments:   []Segment{seg(1, 2, 700*time.Millisecond)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{1: full(2)})},
				InFlight:   []Pending{{1, 0, "a", t0}, {1, 1, Edge, t0}}},
			edge:    []Run{{Edge, 1, 0, 1, ReasonUrgent}},
			cancels: []Pending{{1, 0, "a", t0}},
		},
		{
			name: "duplicates and useless requests are cancelled",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{{Seq: 1, Size: 3 * DefaultPieceSize, Deadline: t0.Add(5 * time.Second), Have: pieces(3, 0)}},
				Neighbours: []Neighbour{
					nb("a", fast, map[uint64]Bitfield{1: full(3)}),
					nb("b", fast, map[uint64]Bitfield{1: full(3)}),
				},
				InFlight: []Pending{
					{1, 0, "a", t0},        // already have it
					{1, 1, "a", t0},        // duplicate of the edge
					{1, 1, Edge, t0},       // kept
					{1, 2, "b", t0},        // kept (older)
					{1, 2, "a", t0.Add(1)}, // duplicate
					{9, 0, "a", t0},        // segment left the window
					{1, 2, "gone", t0},     // neighbour left
					{1, 7, Edge, t0},       // no such piece
				}},
			cancels: []Pending{
				{1, 0, "a", t0}, {9, 0, "a", t0}, {1, 7, Edge, t0},
				{1, 1, "a", t0}, {1, 2, "gone", t0}, {1, 2, "a", t0.Add(1)},
			},
		},
		{
			name: "stripe owner fetches exactly its stripe from the edge, as one range",
			st: State{Now: t0, Policy: Policy{P2P: true, Stripe: Stripe{Index: 1, Count: 4}},
				Segments: []Segment{seg(0, 16, 5*time.Second)}},
			edge: []Run{{Edge, 0, 4, 4, ReasonSeed}},
		},
		{
			name: "stripe rotates with the segment",
			st: State{Now: t0, Policy: Policy{P2P: true, Stripe: Stripe{Index: 1, Count: 4}},
				Segments: []Segment{seg(1, 16, 5*time.Second)}},
			edge: []Run{{Edge, 1, 0, 4, ReasonSeed}},
		},
		{
			name: "stripe pieces a neighbour announced are pulled, not seeded",
			st: State{Now: t0, Policy: Policy{P2P: true, Stripe: Stripe{Index: 1, Count: 4}},
				Segments:   []Segment{seg(0, 16, 5*time.Second)},
				Neighbours: []Neighbour{nb("a", fast, map[uint64]Bitfield{0: pieces(16, 4, 5)})}},
			edge:     []Run{{Edge, 0, 6, 2, ReasonSeed}},
			requests: []Run{{"a", 0, 4, 2, ReasonNone}},
		},
		{
			name: "stripe too close to the deadline to spread: not seeded",
			st: State{Now: t0, Policy: Policy{P2P: true, Stripe: Stripe{Index: 1, Count: 4}},
				Segments: []Segment{seg(0, 16, 1900*time.Millisecond)}},
		},
		{
			name: "no-upload peer never seeds",
			st: State{Now: t0, Policy: Policy{P2P: true, NoUpload: true, Stripe: Stripe{Index: 0, Count: 1}},
				Segments: []Segment{seg(1, 4, 5*time.Second)}},
		},
		{
			name: "nobody has it and its fallback moment passed: edge",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{seg(1, 4, 1500*time.Millisecond+time.Millisecond)}},
			edge: []Run{{Edge, 1, 0, 4, ReasonFallback}},
		},
		{
			name: "nobody has it, deadline far: wait",
			st: State{Now: t0, Policy: p2p,
				Segments: []Segment{seg(1, 4, 2600*time.Millisecond)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Schedule(tt.st)
			if !slices.Equal(p.Edge, tt.edge) {
				t.Errorf("edge = %v, want %v", p.Edge, tt.edge)
			}
			if !slices.Equal(p.Requests, tt.requests) {
				t.Errorf("requests = %v, want %v", p.Requests, tt.requests)
			}
			if !sameSet(p.Cancels, tt.cancels) {
				t.Errorf("cancels = %v, want %v", p.Cancels, tt.cancels)
			}
		})
	}
}

func sameSet(a, b []Pending) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestRarestFirst(t *testing.T) {
	// Each neighbour takes one request. "a" is the fastest and the only holder
	// of piece 1: rarest-first gives it piece 1, and piece 0 goes to b or c.
	// Deadline-first alone would give a piece 0 and strand piece 1.
	pol := Policy{P2P: true, MaxOutstanding: 1}
	st := State{Now: t0, Policy: pol,
		Segments: []Segment{seg(1, 2, 5*time.Second)},
		Neighbours: []Neighbour{
			nb("a", fast*4, map[uint64]Bitfield{1: full(2)}),
			nb("b", fast, map[uint64]Bitfield{1: pieces(2, 0)}),
			nb("c", fast, map[uint64]Bitfield{1: pieces(2, 0)}),
		}}
	p := Schedule(st)
	if len(p.Requests) != 2 {
		t.Fatalf("requests = %v, want 2", p.Requests)
	}
	for _, r := range p.Requests {
		if r.First == 1 && r.From != "a" {
			t.Errorf("piece 1 from %q, want a", r.From)
		}
		if r.First == 0 && r.From == "a" {
			t.Errorf("piece 0 from a, want b or c")
		}
	}
}

func TestDeadlineBeforeRarity(t *testing.T) {
	// One slot: the earlier segment wins even though the later piece is rarer.
	st := State{Now: t0, Policy: Policy{P2P: true, MaxOutstanding: 1},
		Segments: []Segment{seg(2, 1, 8*time.Second), seg(1, 1, 5*time.Second)},
		Neighbours: []Neighbour{
			nb("a", fast, map[uint64]Bitfield{1: full(1), 2: full(1)}),
			{ID: "b", Choking: true, Have: HavesOf(map[uint64]Bitfield{1: full(1)})},
		}}
	p := Schedule(st)
	if want := []Run{{"a", 1, 0, 1, ReasonNone}}; !slices.Equal(p.Requests, want) {
		t.Fatalf("requests = %v, want %v", p.Requests, want)
	}
}

func TestInFlightBound(t *testing.T) {
	tests := []struct {
		name        string
		tput        float64
		rtt         time.Duration
		outstanding int
		want        int
	}{
		{"slow neighbour: at least 2", 1 << 10, 0, 0, 2},
		{"bytes in throughput x (rtt + 250ms)", 256 << 10, 0, 0, 4},
		{"rtt counts", 256 << 10, 500 * time.Millisecond, 0, 12},
		{"capped by MaxOutstanding", 100 << 20, 0, 0, 32},
		{"outstanding requests count", 256 << 10, 0, 3, 1},
		{"full: nothing more", 256 << 10, 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := State{Now: t0, Policy: Policy{P2P: true},
				Segments: []Segment{seg(1, 100, 10*time.Second)},
				Neighbours: []Neighbour{{ID: "a", Throughput: tt.tput, RTT: tt.rtt,
					Have: HavesOf(map[uint64]Bitfield{1: full(100)})}}}
			for i := range tt.outstanding {
				st.InFlight = append(st.InFlight, Pending{1, 99 - i, "a", t0})
			}
			p := Schedule(st)
			got := 0
			for _, r := range p.Requests {
				got += r.Count
			}
			if got != tt.want {
				t.Errorf("requested %d pieces, want %d", got, tt.want)
			}
			if len(p.Cancels) != 0 {
				t.Errorf("cancels = %v", p.Cancels)
			}
		})
	}
}

func TestWake(t *testing.T) {
	// Nothing to do now: Wake is the earliest moment something changes, and
	// scheduling at Wake does something.
	st := State{Now: t0, Self: "me", Policy: Policy{P2P: true},
		Segments: []Segment{seg(1, 4, 4*time.Second)}}
	p := Schedule(st)
	if len(p.Edge)+len(p.Requests)+len(p.Cancels) != 0 {
		t.Fatalf("unexpected actions %+v", p)
	}
	lo, hi := t0.Add(1500*time.Millisecond), t0.Add(2500*time.Millisecond)
	if p.Wake.Before(lo) || p.Wake.After(hi) {
		t.Fatalf("wake %v not in fallback window [%v, %v]", p.Wake, lo, hi)
	}
	st.Now = p.Wake
	if p2 := Schedule(st); len(p2.Edge) == 0 {
		t.Fatalf("nothing fetched at wake: %+v", p2)
	}
}

func TestFallbackStaggered(t *testing.T) {
	// Peers fall back to the edge at different moments, so that the first
	// can feed the others.
	when := map[time.Duration]bool{}
	for i := range 20 {
		st := State{Now: t0, Self: string(rune('a' + i)), Policy: Policy{P2P: true},
			Segments: []Segment{seg(1, 1, 4*time.Second)}}
		when[Schedule(st).Wake.Sub(t0)] = true
	}
	if len(when) < 15 {
		t.Fatalf("only %d distinct fallback moments for 20 peers", len(when))
	}
}

func TestNoUploadFallsBackOnlyWhenUrgent(t *testing.T) {
	st := State{Now: t0, Self: "m", Policy: Policy{P2P: true, NoUpload: true},
		Segments: []Segment{seg(1, 4, 4*time.Second)}}
	if w := Schedule(st).Wake; !w.Equal(t0.Add(2500 * time.Millisecond)) {
		t.Fatalf("wake = %v, want urgent moment", w.Sub(t0))
	}
}

func TestStripeOfPartitions(t *testing.T) {
	for _, n := range []int{1, 2, 7, 16, 63, 200} {
		for _, k := range []int{1, 2, 3, 4, 8} {
			for seq := range uint64(5) {
				runs := map[int]int{} // stripe → number of runs
				prev := -1
				for i := range n {
					s := StripeOf(seq, i, n, k)
					if s < 0 || s >= k {
						t.Fatalf("n=%d k=%d: stripe %d out of range", n, k, s)
					}
					if s != prev {
						runs[s]++
					}
					prev = s
				}
				for s, c := range runs {
					if c != 1 {
						t.Fatalf("n=%d k=%d seq=%d: stripe %d in %d runs", n, k, seq, s, c)
					}
				}
			}
		}
	}
}

func TestBitfield(t *testing.T) {
	b := NewBitfield(70)
	b.Set(0)
	b.Set(69)
	b.Set(128) // beyond its room: ignored
	b.Set(-1)  // ignored
	if !b.Has(0) || !b.Has(69) || b.Has(1) || b.Has(70) || b.Has(128) || b.Has(-1) || b.Count() != 2 {
		t.Fatalf("bitfield %b", b)
	}
	var z Bitfield
	z.Set(3)
	if z.Has(3) || z.Count() != 0 {
		t.Fatal("nil bitfield not empty")
	}
}

func TestSegmentRange(t *testing.T) {
	s := Segment{Size: 2*DefaultPieceSize + 100}
	if s.Pieces() != 3 {
		t.Fatalf("pieces = %d", s.Pieces())
	}
	if off, n := s.Range(2, 1); off != 2*DefaultPieceSize || n != 100 {
		t.Fatalf("last piece range %d+%d", off, n)
	}
	if off, n := s.Range(1, 5); off != DefaultPieceSize || n != DefaultPieceSize+100 {
		t.Fatalf("clamped range %d+%d", off, n)
	}
}
