package peer

import (
	"context"
	"testing"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// TestEnqueueBusyBacklog: a link queues the longest prefix of a request that
// fits in busyBacklog of upload at the cap (one piece always fits an empty
// backlog) and at most maxQueuedPieces per link; the rest is the caller's
// REJECT over_cap.
func TestEnqueueBusyBacklog(t *testing.T) {
	const pieces = 300
	seg := &segment{rec: &manifest.Record{PieceSize: wire.PieceSize, Size: pieces * wire.PieceSize, Hashes: make([][32]byte, pieces)}}
	jobs := func(n int) []upJob {
		out := make([]upJob, n)
		for i := range out {
			out[i] = upJob{seg: seg, idx: i}
		}
		return out
	}
	piecesPerSec := func(n float64) int64 { return int64(n * wire.PieceSize * 8) } // bit/s
	tests := []struct {
		name      string
		rate      int64 // bit/s, 0 = no cap
		queued    int64 // bytes already waiting peer-wide
		ask, want int
	}{
		{"no cap: up to the per-link bound", 0, 0, 300, maxQueuedPieces},
		{"16 pieces/s: 4 pieces in 250 ms", piecesPerSec(16), 0, 10, 4},
		{"16 pieces/s, backlog full", piecesPerSec(16), 4 * wire.PieceSize, 3, 0},
		{"16 pieces/s, room for one more", piecesPerSec(16), 3 * wire.PieceSize, 3, 1},
		{"tiny cap: one piece into an empty backlog", piecesPerSec(0.5), 0, 3, 1},
		{"tiny cap: nothing behind a queued piece", piecesPerSec(0.5), wire.PieceSize, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &bucket{}
			b.setRate(tc.rate)
			b.queued.Store(tc.queued)
			k := newLink(context.Background(), nil, b, nil, func(int) {})
			if got := k.enqueue(jobs(tc.ask)); got != tc.want {
				t.Errorf("enqueue(%d) = %d, want %d", tc.ask, got, tc.want)
			}
			if got, want := b.queued.Load(), tc.queued+int64(tc.want)*wire.PieceSize; got != want {
				t.Errorf("backlog %d bytes, want %d", got, want)
			}
		})
	}
}
