package player

import (
	"testing"
	"time"
)

// TestNewEpochGap: a restarted origin numbers from the clock, so the new epoch's
// first segment follows a numbering gap. Its deadline is right after the last
// segment of the old epoch, not the gap's target durations later (which would leave
// the scheduler idle until the player stalls); within an epoch a gap still counts.
func TestNewEpochGap(t *testing.T) {
	for _, tc := range []struct {
		newEpoch bool
		want     time.Duration // deadline of seq 50 after t0
	}{{true, 16 * time.Second}, {false, 16*time.Second + 45*td}} {
		p := New(Config{}, t0.Add(10*time.Second))
		for s := range uint64(5) {
			if err := p.Publish(Segment{Seq: s, Duration: td, Published: published(s)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Publish(Segment{Seq: 50, Duration: td, Published: published(5), NewEpoch: tc.newEpoch}); err != nil {
			t.Fatal(err)
		}
		p.Advance(t0.Add(10 * time.Second)) // starts at seq 2: 3 at 12 s, 4 at 14 s, the next at 16 s
		if d, ok := p.Deadline(50); !ok || !d.Equal(t0.Add(tc.want)) {
			t.Errorf("NewEpoch %v: deadline(50) = t0+%v %v, want t0+%v", tc.newEpoch, d.Sub(t0), ok, tc.want)
		}
	}
}
