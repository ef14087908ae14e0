package engine

import (
	"math"
	"time"

	"github.com/shoal-cdn/shoal/internal/wire"
)

// Upload queue bounds (docs/wire.md "Requesting"): at most MaxOutstanding
// pieces queued per neighbour, and no more than busyBacklog of upload at the
// cap across all neighbours (the wire allows up to a second; NOTES.md of the
// scheduler: a neighbour must say it is busy past ~200 ms).
const (
	maxQueuedPieces = wire.MaxOutstanding
	// busyBacklog: about three pieces at 2–3 Mbit/s. Short, so that the
	// requesters that pile onto a fresh piece's first holder learn "busy"
	// at once and go to another holder (250 ms, before the urgent window
	// came from the edge timer, cost 1.5–3 CDN copies per segment at 100
	// peers); not shorter, or the uplink idles between rejections: with
	// HAVE suppression 200 ms beat 100 ms at 100, 300 and 1,000 viewers
	// (docs/peer.md "Tuning toward one CDN copy").
	busyBacklog = 200 * time.Millisecond
)

// uploader is the peer-wide upload line: one token bucket paces PIECE bytes
// to the upload cap and hands them out oldest segment first across all
// links (ties: the link that has waited longest), so an uplink never spends
// time on a fresher segment while an older one, which the neighbours need
// sooner, waits. Each link has at most one piece in its writer (PieceSent
// gives it the next turn), so a slow link takes fewer turns. Rate 0 means
// no cap (and no pacing). The zero value is an uncapped, empty line.
type uploader struct {
	rate    float64 // bytes/s
	tokens  float64
	last    time.Time
	queued  int64 // bytes waiting in all queues (not yet in a writer)
	tickets uint64
	wake    time.Time // when the head can go, if it waits for tokens
	// kick: a job was queued, a writer freed or the rate changed since the
	// last release; without one, and before wake, release has nothing to do.
	kick bool
}

// job is one piece to send; seeded marks a piece of the stripe we seed
// (docs/tracker.md "Seeding"): only we hold it near the start of the segment.
type job struct {
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

func (j job) key() jobKey {
	r := 1
	if j.seeded {
		r = 0
	}
	return jobKey{j.seg.id.Seq, r}
}

func (j job) size() int64 { return j.seg.pieceLen(j.idx) }

func (a jobKey) before(b jobKey) bool {
	return a.seq < b.seq || (a.seq == b.seq && a.rank < b.rank)
}

func (u *uploader) setRate(bitsPerSec int64) {
	u.kick = true
	u.rate = float64(max(bitsPerSec, 0)) / 8
	u.tokens = min(u.tokens, u.burst())
}

// burst is 50 ms of the rate, at least one piece: short bursts only, so the cap
// holds over any second.
func (u *uploader) burst() float64 { return max(wire.PieceSize, u.rate/20) }

// enqueue queues on nb the longest prefix of jobs that fits and returns its
// length: the per-link queue holds at most maxQueuedPieces, and the
// peer-wide backlog at the cap at most busyBacklog of upload (one piece
// always fits an empty backlog, however low the cap). The caller answers
// REJECT over_cap for the rest. A short backlog is what makes the swarm
// spread a fresh piece: the requesters that pile onto its first holder are
// turned away at once and ask again (of it or of the neighbours it served
// meanwhile) after a back-off, instead of waiting behind each other until
// the piece is urgent and comes from the edge (internal/scheduler/NOTES.md).
//
// A full backlog still takes a piece of an older segment than some it holds:
// the freshest queued piece (of any link in all, not of our stripe) makes
// room and is handed to evict, whose requester is told over_cap and has the
// most time to ask elsewhere. So a joiner's next segments and a late
// viewer's are not turned away by a backlog of pieces due seconds later.
// evict nil: no displacement, as on demand, where a lower seq is not due
// sooner (at 100 VOD viewers displacing cost 1.7 points of offload).
func (u *uploader) enqueue(nb *neighbour, jobs []job, all []*neighbour, evict func(*neighbour, job)) int {
	limit := -1.0
	if u.rate > 0 {
		limit = u.rate * busyBacklog.Seconds()
	}
	n := 0
	var bytes int64
	for _, j := range jobs {
		if len(nb.queue) >= maxQueuedPieces {
			break
		}
		size := j.size()
		over := func() bool { return limit >= 0 && float64(u.queued+bytes+size) > limit && u.queued+bytes > 0 }
		for over() && evict != nil && u.displace(j, all, evict) {
		}
		if over() {
			break
		}
		bytes += size
		n++
		u.insert(nb, j)
	}
	u.queued += bytes
	u.kick = u.kick || n > 0
	return n
}

// displace takes out of the backlog the queued piece of the freshest
// segment fresher than j's and hands it to evict; it reports whether there
// was one. Pieces of the stripe we seed stay (early in a segment's life we
// are their only holder: at 100 heterogeneous viewers evicting them cost 2.2
// points of offload), and so do pushed ones (nobody asked for them).
func (u *uploader) displace(j job, all []*neighbour, evict func(*neighbour, job)) bool {
	var victim *neighbour
	var vk jobKey
	for _, o := range all {
		if len(o.queue) == 0 {
			continue
		}
		last := o.queue[len(o.queue)-1] // queues are in key order
		if last.seg.id.Seq <= j.seg.id.Seq || last.seeded || o.push.wasPushed(last.seg.id.Seq, last.idx) {
			continue
		}
		if k := last.key(); victim == nil || vk.before(k) {
			victim, vk = o, k
		}
	}
	if victim == nil {
		return false
	}
	last := len(victim.queue) - 1
	v := victim.queue[last]
	victim.queue[last] = job{}
	victim.queue = victim.queue[:last]
	if last == 0 {
		victim.ticket = 0
	}
	u.queued -= v.size()
	evict(victim, v)
	return true
}

// push queues a piece nobody asked for (docs/wire.md "Pushing") on nb if the
// per-link queue has room and the backlog is within pushBacklog.
func (u *uploader) push(nb *neighbour, j job) bool {
	if len(nb.queue) >= maxQueuedPieces {
		return false
	}
	if u.rate > 0 && u.queued > 0 && float64(u.queued+j.size()) > u.rate*pushBacklog.Seconds() {
		return false
	}
	u.insert(nb, j)
	u.queued += j.size()
	u.kick = true
	return true
}

// insert puts j in nb's queue after every job that goes before or with it:
// stable per key.
func (u *uploader) insert(nb *neighbour, j job) {
	key, at := j.key(), len(nb.queue)
	for at > 0 && key.before(nb.queue[at-1].key()) {
		at--
	}
	nb.queue = append(nb.queue, job{})
	copy(nb.queue[at+1:], nb.queue[at:])
	nb.queue[at] = j
}

// queuedFor reports whether piece idx of seq waits in nb's queue.
func (nb *neighbour) queuedFor(seq uint64, idx int) bool {
	for _, j := range nb.queue {
		if j.idx == idx && j.seg.id.Seq == seq {
			return true
		}
	}
	return false
}

// cancel drops nb's queued pieces [first, first+count) of id; all of them
// when id is nil.
func (u *uploader) cancel(nb *neighbour, id *wire.SegmentID, first, count int) {
	kept := nb.queue[:0]
	for _, j := range nb.queue {
		if id == nil || (j.seg.id == *id && j.idx >= first && j.idx < first+count) {
			u.queued -= j.size()
			continue
		}
		kept = append(kept, j)
	}
	clear(nb.queue[len(kept):])
	nb.queue = kept
	if len(nb.queue) == 0 {
		nb.ticket = 0
	}
}

// written gives nb's link its next turn: its writer took the piece it held
// (PieceSent).
func (u *uploader) written(nb *neighbour) {
	nb.inWriter = false
	u.kick = true
}

// release hands out the pieces whose turn has come: each call to send
// gives one piece to a link's writer. Afterwards u.wake is when the next
// piece's tokens will be there (zero: nothing waits for tokens).
func (u *uploader) release(now time.Time, nbs []*neighbour, send func(*neighbour, job)) {
	if !u.kick && (u.wake.IsZero() || now.Before(u.wake)) {
		return
	}
	u.kick, u.wake = false, time.Time{}
	for u.queued > 0 { // nothing queued: no link to look at
		var best *neighbour
		var bestKey jobKey
		for _, nb := range nbs {
			if len(nb.queue) == 0 || nb.inWriter {
				continue
			}
			if nb.ticket == 0 {
				u.tickets++
				nb.ticket = u.tickets
			}
			k := nb.queue[0].key()
			if best == nil || k.before(bestKey) || (k == bestKey && nb.ticket < best.ticket) {
				best, bestKey = nb, k
			}
		}
		if best == nil {
			return
		}
		size := float64(best.queue[0].size())
		if u.rate > 0 {
			if !u.last.IsZero() {
				u.tokens = min(u.burst(), u.tokens+now.Sub(u.last).Seconds()*u.rate)
			}
			u.last = now
			if u.tokens < size && u.tokens < u.burst() {
				// Rounded up, and a nanosecond more: a wake that refills
				// less than the deficit would wake again at the same instant.
				u.wake = now.Add(time.Duration(math.Ceil((size-u.tokens)/u.rate*float64(time.Second))) + 1)
				return
			}
			u.tokens -= size // may go negative for a piece above the burst: repaid by waiting
		}
		j := best.queue[0]
		best.queue[0] = job{}
		best.queue = best.queue[1:]
		u.queued -= j.size()
		best.ticket = 0
		best.inWriter, best.writerSince = true, now
		send(best, j)
	}
}
