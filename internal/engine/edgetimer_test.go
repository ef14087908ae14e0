package engine

import (
	"testing"
	"time"
)

func TestEdgeTimer(t *testing.T) {
	const seg = 400 << 10 // bytes
	ms := time.Millisecond
	tests := []struct {
		name string
		obs  func(e *edgeTimer)
		want time.Duration
	}{
		{"no sample: the default", func(*edgeTimer) {}, maxUrgent},
		{"headers only, no body rate: the default", func(e *edgeTimer) { e.observe(20*ms, ms, 16<<10) }, maxUrgent},
		{"near and fast: the floor", func(e *edgeTimer) {
			for range 20 {
				e.observe(20*ms, 10*ms, 128<<10) // 12.8 MB/s
			}
		}, minUrgent},
		{"slow edge: 2 × (headers + body)", func(e *edgeTimer) {
			for range 50 {
				e.observe(100*ms, 1000*ms, 200<<10) // 200 KiB/s: a segment takes 2 s
			}
		}, maxUrgent},
		{"in between", func(e *edgeTimer) {
			for range 50 {
				e.observe(100*ms, 200*ms, 400<<10) // 2 MiB/s: 200 ms a segment
			}
		}, 600 * ms}, // 2 × (100 + 4 × ~0 + 200)
		{"negative durations ignored", func(e *edgeTimer) { e.observe(-ms, 10*ms, 1<<20) }, maxUrgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e edgeTimer
			tt.obs(&e)
			got := e.urgent(seg)
			if d := got - tt.want; d < -5*ms || d > 5*ms {
				t.Errorf("urgent = %v, want %v", got, tt.want)
			}
		})
	}
}

// A jittery edge widens the window: the deviation counts four times.
func TestEdgeTimerJitter(t *testing.T) {
	var steady, jittery edgeTimer
	for i := range 40 {
		steady.observe(80*time.Millisecond, 100*time.Millisecond, 400<<10)
		w := 20 * time.Millisecond
		if i%2 == 0 {
			w = 140 * time.Millisecond
		}
		jittery.observe(w, 100*time.Millisecond, 400<<10)
	}
	if s, j := steady.urgent(400<<10), jittery.urgent(400<<10); j <= s {
		t.Errorf("jittery edge window %v not above steady %v", j, s)
	}
}
