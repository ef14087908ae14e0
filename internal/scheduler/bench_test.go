package scheduler

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSchedule: one plan of a viewer in a large swarm's steady state: 5
// segments of 24 pieces (the oldest nearly complete, the freshest barely
// announced), 12 neighbours holding different parts, 8 requests in flight.
func BenchmarkSchedule(b *testing.B) {
	now := time.Unix(1000, 0)
	st := State{Now: now, Self: "me", Policy: Policy{P2P: true, Urgent: 500 * time.Millisecond, Stripe: Stripe{Index: 3, Count: 32}}}
	const pieces = 24
	for k := range 5 {
		seq := uint64(100 + k)
		have := NewBitfield(pieces)
		for i := range pieces * (4 - k) / 4 {
			have.Set(i)
		}
		st.Segments = append(st.Segments, Segment{Seq: seq, Size: pieces * DefaultPieceSize, Deadline: now.Add(time.Duration(1+2*k) * time.Second), Have: have})
	}
	for j := range 12 {
		nb := Neighbour{ID: fmt.Sprintf("nb%02d", j), Throughput: 300 << 10, RTT: 40 * time.Millisecond, Choking: j%5 == 0}
		for k := range 5 {
			bf := NewBitfield(pieces)
			for i := range pieces {
				if (i+j)%(k+1) == 0 {
					bf.Set(i)
				}
			}
			nb.Have.Set(uint64(100+k), bf)
		}
		st.Neighbours = append(st.Neighbours, nb)
	}
	for i := range 8 {
		st.InFlight = append(st.InFlight, Pending{Seq: 102, Piece: 12 + i, From: fmt.Sprintf("nb%02d", i), Since: now.Add(-100 * time.Millisecond)})
	}
	b.ReportAllocs()
	var sc Scratch // as the engine plans
	for b.Loop() {
		sc.Schedule(st)
	}
}
