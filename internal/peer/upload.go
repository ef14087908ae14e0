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
	// busyBacklog: about two pieces at 2–3 Mbit/s. In the 100-peer bench
	// a 250 ms backlog made every hop of a fresh piece wait behind older
	// ones (~300 ms a hop) and cost 1.5–3 CDN copies per segment; at 100 ms
	// requesters learn "busy" sooner and go to another holder.
	busyBacklog = 100 * time.Millisecond
	ctrlQueue   = 512 // control frames queued per link; beyond it the link is closed
	turnRecheck = 100 * time.Millisecond
)

// bucket is a token bucket shared by every uploader of one peer: it paces
// PIECE bytes to the upload cap, and hands the bytes out oldest segment
// first across all links (ties: the link that has waited longest), so an
// uplink never spends time on a fresher segment while an older one, which
// the neighbours need sooner, waits. Rate 0 means no cap (and no ordering:
// nothing waits). The zero value is an uncapped bucket on the system clock.
type bucket struct {
	clk    transport.Clock // nil: the system clock
	mu     sync.Mutex
	rate   float64 // bytes/s
	tokens float64
	last   time.Time
	queued atomic.Int64 // bytes waiting in all upload queues

	waiting map[*link]uint64 // links whose writer waits for its turn → ticket (arrival order)
	tickets uint64
	changed chan struct{} // closed (and replaced) when the line changes
}

func (b *bucket) setRate(bitsPerSec int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate = float64(bitsPerSec) / 8
	b.tokens = min(b.tokens, b.burst())
	b.pokeLocked()
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

func (b *bucket) clock() transport.Clock {
	if b.clk == nil {
		return transport.SystemClock()
	}
	return b.clk
}

// poke wakes every writer waiting for its turn to look at the line again (a
// link queued an older piece than the one at the front).
func (b *bucket) poke() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pokeLocked()
}

func (b *bucket) pokeLocked() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// leaveLocked takes k out of the line; its ticket is kept in k.ticket when
// keep is set (it comes back at once, after a control frame).
func (b *bucket) leaveLocked(k *link, keep bool) {
	if t, ok := b.waiting[k]; ok {
		delete(b.waiting, k)
		if keep {
			k.ticket = t
		}
		b.pokeLocked()
	}
}

// firstLocked returns the waiting link whose head piece goes first.
func (b *bucket) firstLocked() *link {
	var best *link
	var bestKey jobKey
	var bestTicket uint64
	for k, t := range b.waiting {
		key, ok := k.head()
		if !ok {
			continue
		}
		if best == nil || key.before(bestKey) || (key == bestKey && t < bestTicket) {
			best, bestKey, bestTicket = k, key, t
		}
	}
	return best
}

// turn waits until the head of k's queue goes first (oldest segment across
// all links, then the link waiting longest) and the bucket has its bytes,
// then pops and returns it. It returns instead a control frame of k that
// arrived meanwhile (k keeps its place in line and calls again), nothing
// when k's queue emptied (CANCEL), or an error when k closed.
func (b *bucket) turn(k *link) (upJob, []byte, error) {
	clk := b.clock()
	b.mu.Lock()
	if _, ok := b.waiting[k]; !ok {
		if b.waiting == nil {
			b.waiting = make(map[*link]uint64)
		}
		t := k.ticket
		if t == 0 {
			b.tickets++
			t = b.tickets
		}
		k.ticket = 0
		b.waiting[k] = t
	}
	for {
		size, ok := k.headSize()
		if !ok {
			b.leaveLocked(k, false)
			b.mu.Unlock()
			return upJob{}, nil, nil
		}
		if b.rate <= 0 { // no cap: nothing waits
			j, _ := k.pop()
			b.leaveLocked(k, false)
			b.mu.Unlock()
			return j, nil, nil
		}
		wait := turnRecheck
		if b.firstLocked() == k {
			now := clk.Now()
			if !b.last.IsZero() {
				b.tokens = min(b.burst(), b.tokens+now.Sub(b.last).Seconds()*b.rate)
			}
			b.last = now
			if b.tokens >= float64(size) || b.tokens >= b.burst() {
				j, _ := k.pop()               // the head may have changed since headSize: charge what goes
				b.tokens -= float64(j.size()) // may go negative for a piece above the burst: repaid by waiting
				b.leaveLocked(k, false)
				b.mu.Unlock()
				return j, nil, nil
			}
			wait = min(wait, time.Duration((float64(size)-b.tokens)/b.rate*float64(time.Second)))
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		c, t := after(clk, wait)
		select {
		case <-k.ctx.Done():
			t.Stop()
			b.mu.Lock()
			b.leaveLocked(k, false)
			b.mu.Unlock()
			return upJob{}, nil, k.ctx.Err()
		case f := <-k.ctrl:
			t.Stop()
			b.mu.Lock()
			b.leaveLocked(k, true)
			b.mu.Unlock()
			return upJob{}, f, nil
		case <-changed:
		case <-c:
		}
		t.Stop()
		b.mu.Lock()
	}
}

// upJob is one piece to send; seeded marks a piece of the stripe we seeded
// (docs/tracker.md "Seeding"): only we hold it near the start of the segment.
type upJob struct {
	seg    *segment
	idx    int
	seeded bool
}

// jobKey orders pieces for upload: older segment first, then (within one
// segment) a piece of our stripe first. Our stripe before everything was
// tried: no better in the steady bench, and in the heterogeneous one (upload
// barely above the bitrate) it delayed older segments into a stall per run.
type jobKey struct {
	seq  uint64
	rank int // 0: our stripe, 1: other
}

// size is the piece's length in bytes.
func (j upJob) size() int64 {
	off, end := j.seg.pieceRange(j.idx)
	return end - off
}

func (j upJob) key() jobKey {
	r := 1
	if j.seeded {
		r = 0
	}
	return jobKey{j.seg.id.Seq, r}
}

func (a jobKey) before(b jobKey) bool {
	return a.seq < b.seq || (a.seq == b.seq && a.rank < b.rank)
}

// link is one neighbour's connection: the writer goroutine sends control
// frames first, then queued pieces when the bucket gives it the turn.
type link struct {
	l      transport.Link
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   chan []byte
	bucket *bucket
	tamper func(wire.SegmentID, int, []byte) []byte
	onUp   func(n int) // counts uploaded piece bytes

	mu     sync.Mutex
	jobs   []upJob // ordered by key, arrival order within a key
	kick   chan struct{}
	ticket uint64 // place in the bucket's line kept across a control frame (bucket.mu)
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
	limit := -1.0
	if r := k.bucket.capped(); r > 0 { // before k.mu: the bucket locks links under its own lock
		limit = r * busyBacklog.Seconds()
	}
	n, ahead := k.add(jobs, limit)
	if n > 0 {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
	if ahead {
		k.bucket.poke() // the line's order depends on the heads only
	}
	return n
}

// add queues what fits under limit (bytes of peer-wide backlog, < 0: none)
// and reports whether a piece went ahead of the queue's previous head.
func (k *link) add(jobs []upJob, limit float64) (n int, ahead bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	queued := k.bucket.queued.Load()
	var bytes int64
	for _, j := range jobs {
		if len(k.jobs) >= maxQueuedPieces {
			break
		}
		size := j.size()
		if limit >= 0 && float64(queued+bytes+size) > limit && queued+bytes > 0 {
			break
		}
		bytes += size
		n++
		// Insert after every job that goes before or with it: stable per key.
		key, at := j.key(), len(k.jobs)
		for at > 0 && key.before(k.jobs[at-1].key()) {
			at--
		}
		ahead = ahead || (at == 0 && len(k.jobs) > 0)
		k.jobs = append(k.jobs, upJob{})
		copy(k.jobs[at+1:], k.jobs[at:])
		k.jobs[at] = j
	}
	k.bucket.queued.Add(bytes)
	return n, ahead
}

// cancelJobs drops queued pieces [first, first+count) of seg; all of them when
// seg is nil (CHOKE).
func (k *link) cancelJobs(id *wire.SegmentID, first, count int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kept := k.jobs[:0]
	for _, j := range k.jobs {
		if id == nil || (j.seg.id == *id && j.idx >= first && j.idx < first+count) {
			k.bucket.queued.Add(-j.size())
			continue
		}
		kept = append(kept, j)
	}
	clear(k.jobs[len(kept):])
	k.jobs = kept
}

func (k *link) pending() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.jobs) > 0
}

func (k *link) head() (jobKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.jobs) == 0 {
		return jobKey{}, false
	}
	return k.jobs[0].key(), true
}

func (k *link) headSize() (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.jobs) == 0 {
		return 0, false
	}
	return k.jobs[0].size(), true
}

// pop takes the head job off the queue and out of the backlog.
func (k *link) pop() (upJob, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.jobs) == 0 {
		return upJob{}, false
	}
	j := k.jobs[0]
	k.jobs[0] = upJob{}
	k.jobs = k.jobs[1:]
	k.bucket.queued.Add(-j.size())
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
		if k.pending() {
			j, f, err := k.bucket.turn(k)
			switch {
			case err != nil:
				return
			case f != nil:
				if k.l.Send(k.ctx, f) != nil {
					return
				}
				continue
			case j.seg == nil:
				continue // cancelled meanwhile
			}
			data := j.seg.piece(j.idx)
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
