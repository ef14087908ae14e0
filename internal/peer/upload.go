package peer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Upload queue bounds (docs/wire.md "Requesting"): at most MaxOutstanding
// pieces queued per neighbour, and no more than about a second's worth at the
// upload cap across all neighbours.
const (
	maxQueuedPieces = wire.MaxOutstanding
	maxBacklog      = time.Second
	ctrlQueue       = 512 // control frames queued per link; beyond it the link is closed
)

// bucket is a token bucket shared by every uploader of one peer: it paces
// PIECE bytes to the upload cap. Rate 0 means no cap.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes/s
	tokens float64
	last   time.Time
	queued atomic.Int64 // bytes waiting in all upload queues
}

func (b *bucket) setRate(bitsPerSec int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate = float64(bitsPerSec) / 8
	b.tokens = min(b.tokens, b.burst())
}

// burst is 50 ms of the rate, at least one piece: short bursts only, so the cap
// holds over any second.
func (b *bucket) burst() float64 { return max(wire.PieceSize, b.rate/20) }

// capped reports the rate (0: none).
func (b *bucket) capped() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate
}

// take waits until n bytes may be sent.
func (b *bucket) take(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.rate <= 0 {
			b.mu.Unlock()
			return nil
		}
		now := time.Now()
		if !b.last.IsZero() {
			b.tokens = min(b.burst(), b.tokens+now.Sub(b.last).Seconds()*b.rate)
		}
		b.last = now
		if b.tokens >= float64(n) || b.tokens >= b.burst() {
			b.tokens -= float64(n) // may go negative for a piece above the burst: repaid by waiting
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((float64(n) - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		t := time.NewTimer(min(wait, 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// upJob is one piece to send.
type upJob struct {
	seg *segment
	idx int
}

// link is one neighbour's connection: the writer goroutine sends control
// frames first, then queued pieces paced by the bucket.
type link struct {
	l      transport.Link
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   chan []byte
	bucket *bucket
	tamper func(wire.SegmentID, int, []byte) []byte
	onUp   func(n int) // counts uploaded piece bytes

	mu   sync.Mutex
	jobs []upJob
	kick chan struct{}
}

func newLink(parent context.Context, l transport.Link, b *bucket, tamper func(wire.SegmentID, int, []byte) []byte, onUp func(int)) *link {
	ctx, cancel := context.WithCancel(parent)
	return &link{l: l, ctx: ctx, cancel: cancel, ctrl: make(chan []byte, ctrlQueue), bucket: b,
		tamper: tamper, onUp: onUp, kick: make(chan struct{}, 1)}
}

// send queues a control frame; false if the queue is full (the caller closes
// the link: a neighbour that does not read its frames is stuck).
func (k *link) send(m wire.Msg) bool {
	select {
	case k.ctrl <- wire.Encode(nil, m):
		return true
	default:
		return false
	}
}

// enqueue queues pieces; false (nothing queued) when the queue or the
// peer-wide backlog at the cap is full: the caller answers REJECT over_cap.
func (k *link) enqueue(jobs []upJob) bool {
	var bytes int64
	for _, j := range jobs {
		off, end := j.seg.pieceRange(j.idx)
		bytes += end - off
	}
	k.mu.Lock()
	if len(k.jobs)+len(jobs) > maxQueuedPieces {
		k.mu.Unlock()
		return false
	}
	if r := k.bucket.capped(); r > 0 && float64(k.bucket.queued.Load()+bytes) > r*maxBacklog.Seconds() {
		k.mu.Unlock()
		return false
	}
	k.jobs = append(k.jobs, jobs...)
	k.bucket.queued.Add(bytes)
	k.mu.Unlock()
	select {
	case k.kick <- struct{}{}:
	default:
	}
	return true
}

// cancelJobs drops queued pieces [first, first+count) of seg; all of them when
// seg is nil (CHOKE).
func (k *link) cancelJobs(id *wire.SegmentID, first, count int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kept := k.jobs[:0]
	for _, j := range k.jobs {
		if id == nil || (j.seg.id == *id && j.idx >= first && j.idx < first+count) {
			off, end := j.seg.pieceRange(j.idx)
			k.bucket.queued.Add(-(end - off))
			continue
		}
		kept = append(kept, j)
	}
	clear(k.jobs[len(kept):])
	k.jobs = kept
}

func (k *link) next() (upJob, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.jobs) == 0 {
		return upJob{}, false
	}
	j := k.jobs[0]
	k.jobs[0] = upJob{}
	k.jobs = k.jobs[1:]
	return j, true
}

// close ends the writer and the transport link.
func (k *link) close() {
	k.cancel()
	k.l.Close()
	k.cancelJobs(nil, 0, 0)
}

// writeLoop sends control frames and pieces until the link closes.
func (k *link) writeLoop() {
	defer k.close()
	buf := make([]byte, 0, wire.MaxFrameSize)
	for {
		select {
		case f := <-k.ctrl:
			if k.l.Send(k.ctx, f) != nil {
				return
			}
			continue
		case <-k.ctx.Done():
			return
		default:
		}
		if j, ok := k.next(); ok {
			data := j.seg.piece(j.idx)
			off, end := j.seg.pieceRange(j.idx)
			k.bucket.queued.Add(-(end - off))
			if k.bucket.take(k.ctx, len(data)) != nil {
				return
			}
			if k.tamper != nil {
				data = k.tamper(j.seg.id, j.idx, append([]byte(nil), data...))
			}
			buf = wire.Encode(buf[:0], wire.Piece{Segment: j.seg.id, Index: uint32(j.idx), Data: data})
			if k.l.Send(k.ctx, buf) != nil {
				return
			}
			k.onUp(len(data))
			continue
		}
		select {
		case f := <-k.ctrl:
			if k.l.Send(k.ctx, f) != nil {
				return
			}
		case <-k.kick:
		case <-k.ctx.Done():
			return
		}
	}
}
