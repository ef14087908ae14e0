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
// pieces queued per neighbour, and no more than busyBacklog of upload at the
// cap across all neighbours (the wire allows up to a second; NOTES.md of the
// scheduler: a neighbour must say it is busy past ~200 ms).
const (
	maxQueuedPieces = wire.MaxOutstanding
	busyBacklog     = 250 * time.Millisecond
	ctrlQueue       = 512 // control frames queued per link; beyond it the link is closed
)

// bucket is a token bucket shared by every uploader of one peer: it paces
// PIECE bytes to the upload cap. Rate 0 means no cap.
type bucket struct {
	clk    transport.Clock // nil: the system clock
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
		clk := b.clk
		if clk == nil {
			clk = transport.SystemClock()
		}
		now := clk.Now()
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
		if !sleepOn(ctx, clk, min(wait, 100*time.Millisecond)) {
			return ctx.Err()
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

// enqueue queues the longest prefix of jobs that fits and returns its length:
// the per-link queue holds at most maxQueuedPieces, and the peer-wide backlog
// at the cap at most busyBacklog of upload (one piece always fits an empty
// backlog, however low the cap). The caller answers REJECT over_cap for the
// rest. A short backlog is what makes the swarm spread a fresh piece: the
// requesters that pile onto its first holder are turned away at once and ask
// again (of it or of the neighbours it served meanwhile) after a back-off,
// instead of waiting behind each other until the piece is urgent and comes
// from the edge (internal/scheduler/NOTES.md).
func (k *link) enqueue(jobs []upJob) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	limit := -1.0
	if r := k.bucket.capped(); r > 0 {
		limit = r * busyBacklog.Seconds()
	}
	queued := k.bucket.queued.Load()
	n := 0
	var bytes int64
	for _, j := range jobs {
		if len(k.jobs)+n >= maxQueuedPieces {
			break
		}
		off, end := j.seg.pieceRange(j.idx)
		if limit >= 0 && float64(queued+bytes+end-off) > limit && queued+bytes > 0 {
			break
		}
		bytes += end - off
		n++
	}
	if n == 0 {
		return 0
	}
	k.jobs = append(k.jobs, jobs[:n]...)
	k.bucket.queued.Add(bytes)
	select {
	case k.kick <- struct{}{}:
	default:
	}
	return n
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
