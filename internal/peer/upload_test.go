package peer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
		{"40 pieces/s: 4 pieces in 100 ms", piecesPerSec(40), 0, 10, 4},
		{"40 pieces/s, backlog full", piecesPerSec(40), 4 * wire.PieceSize, 3, 0},
		{"40 pieces/s, room for one more", piecesPerSec(40), 3 * wire.PieceSize, 3, 1},
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

// testSegment is a segment of n pieces (contents unused) for upload tests.
func testSegment(seq uint64, n int) *segment {
	return &segment{id: wire.SegmentID{Epoch: "e", Seq: seq},
		rec: &manifest.Record{PieceSize: wire.PieceSize, Size: int64(n) * wire.PieceSize, Hashes: make([][32]byte, n)}}
}

// TestBucket: the bucket holds a rate within 10% over a second, rate 0 means
// no cap, and a writer waiting for its turn honours its link's end.
func TestBucket(t *testing.T) {
	var b bucket
	k := newLink(context.Background(), nil, &b, nil, func(int) {})
	seg := testSegment(1, 1)
	take := func() error {
		k.add([]upJob{{seg: seg}}, -1)
		j, f, err := b.turn(k)
		if err == nil && (j.seg != seg || f != nil) {
			t.Fatalf("turn = %+v, %q: want the queued piece", j, f)
		}
		return err
	}
	start := time.Now()
	for range 100 {
		if err := take(); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Errorf("uncapped bucket waited %v", time.Since(start))
	}
	b.setRate(8 * 400_000) // 400 kB/s
	start = time.Now()
	sent := 0
	for time.Since(start) < time.Second {
		if err := take(); err != nil {
			t.Fatal(err)
		}
		sent += wire.PieceSize
	}
	rate := float64(sent) / time.Since(start).Seconds()
	if rate > 440_000 || rate < 300_000 {
		t.Errorf("bucket let %.0f B/s through at a 400000 B/s cap", rate)
	}
	b.setRate(8) // 1 B/s: the next piece must wait, and honour the link's end
	k.cancel()
	if err := take(); err == nil {
		t.Error("turn ignored a closed link")
	}
	if got := b.queued.Load(); got != wire.PieceSize {
		t.Errorf("backlog %d bytes, want the one piece still queued", got)
	}
}

// TestUploadOrder: at the cap, the bucket hands out pieces oldest segment
// first across links, within a segment the pieces of our own stripe first,
// and otherwise in turn between the links (the one waiting longest first).
func TestUploadOrder(t *testing.T) {
	var b bucket
	b.setRate(8) // nobody goes until every writer is in line
	old, fresh := testSegment(6, 3), testSegment(7, 3)
	type sent struct {
		link string
		seq  uint64
		idx  int
	}
	var (
		mu  sync.Mutex
		got []sent
		wg  sync.WaitGroup
	)
	links := map[string][]upJob{
		"A": {{seg: fresh, idx: 0}, {seg: fresh, idx: 1, seeded: true}, {seg: fresh, idx: 2}},
		"B": {{seg: old, idx: 0}, {seg: old, idx: 1}, {seg: old, idx: 2}},
		"C": {{seg: old, idx: 0}, {seg: old, idx: 1, seeded: true}, {seg: old, idx: 2}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, jobs := range links {
		k := newLink(ctx, nil, &b, nil, func(int) {})
		if n, _ := k.add(jobs, -1); n != len(jobs) {
			t.Fatalf("queued %d of %d", n, len(jobs))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k.pending() {
				j, _, err := b.turn(k)
				if err != nil {
					return
				}
				mu.Lock()
				got = append(got, sent{name, j.seg.id.Seq, j.idx})
				mu.Unlock()
			}
		}()
	}
	for {
		b.mu.Lock()
		n := len(b.waiting)
		b.mu.Unlock()
		if n == len(links) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.setRate(10 * wire.PieceSize * 8) // 10 pieces/s: each grant waits for its bytes
	wg.Wait()
	want := []sent{{"C", 6, 1}, {"B", 6, 0}, {"C", 6, 0}, {"B", 6, 1}, {"C", 6, 2}, {"B", 6, 2},
		{"A", 7, 1}, {"A", 7, 0}, {"A", 7, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upload order\n got %v\nwant %v", got, want)
	}
	if q := b.queued.Load(); q != 0 {
		t.Errorf("backlog %d bytes after everything was sent", q)
	}
}
