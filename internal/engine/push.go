package engine

import (
	"math"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Push (docs/wire.md "Pushing"; docs/peer.md): a segment's pieces are cut into
// substreams exactly as into the tracker's seeding stripes when it cuts 32
// (every swarm above 128 peers): piece i of n of segment seq is in substream
// scheduler.StripeOf(seq, i, n, substreams), so each substream has the same
// seeders in every segment. For each substream we subscribe to the neighbour
// that has been announcing its pieces earliest (the one closest to its
// seeders, in New Coolstreaming's manner), and it sends us every piece of
// that substream it verifies, without the HAVE → REQUEST round trip of a
// pull. So a fresh piece travels down a tree per substream rooted at its
// seeders, one hop per link latency plus its upload time; pull fills
// whatever push misses. Subscriptions need no
// agreement: a neighbour that ignores SUBSCRIBE (an older peer) is only
// pulled from, and the upload line bounds what a popular parent queues.
const (
	substreams = wire.MaxSubstreams
	// lagAlpha weighs a new sample of a neighbour's announcement lag.
	lagAlpha = 0.2
	// parentMargin: a parent keeps its children unless another neighbour
	// announces that substream this much earlier (no flapping on noise).
	parentMargin = 30 * time.Millisecond
	// pushBacklog bounds the upload backlog that pushes may fill: the
	// wire's bound on a queue ("drained within about one second"). Pulls keep
	// busyBacklog, so a parent full of pushes turns pull requests away.
	pushBacklog = 200 * time.Millisecond
	// recentPushes is how many pushed pieces a neighbour remembers, so that a
	// REQUEST for a piece already on its way is not served twice.
	recentPushes = 64
	// pushGrace: a piece of a substream we subscribed to, announced by another
	// neighbour first, is hidden from the scheduler this long, so that our
	// parent's push, a moment behind, is not raced by a pull (a duplicate).
	pushGrace = 150 * time.Millisecond
	// maxDeferred bounds the announcements held back per neighbour.
	maxDeferred = 256
)

// substream is the substream of piece i of segment s (which has its record).
func substream(s *segment, i int) int { return scheduler.StripeOf(s.id.Seq, i, s.pieces(), substreams) }

// pushState is one neighbour's side of push: what it subscribed to from us,
// what we subscribed to from it, and how early it announces each substream.
type pushState struct {
	subIn  uint32     // substreams it asked us to push
	subOut uint32     // substreams we asked it to push
	held   []deferred // its announcements of our parents' pieces, held back
	// t is made when push first needs it: most neighbours of a swarm
	// without push never do, and it is most of a neighbour's memory.
	t *pushTrack
}

// pushTrack is how early a neighbour announces each substream and what we
// pushed it lately.
type pushTrack struct {
	lag    [substreams]float64
	lagN   [substreams]uint32 // samples behind lag
	recent [recentPushes]pushed
	next   int
}

func (p *pushState) track() *pushTrack {
	if p.t == nil {
		p.t = new(pushTrack)
	}
	return p.t
}

// lag is the announcement lag of substream j and whether it was sampled.
func (p *pushState) lag(j int) (float64, bool) {
	if p.t == nil || p.t.lagN[j] == 0 {
		return 0, false
	}
	return p.t.lag[j], true
}

// deferred is an announced piece held back from the scheduler until at.
type deferred struct {
	seq uint64
	idx int
	at  time.Time
}

type pushed struct {
	seq uint64
	idx int
	ok  bool
}

func (p *pushState) remember(seq uint64, idx int) {
	t := p.track()
	t.recent[t.next] = pushed{seq, idx, true}
	t.next = (t.next + 1) % recentPushes
}

func (p *pushState) wasPushed(seq uint64, idx int) bool {
	if p.t == nil {
		return false
	}
	for _, r := range p.t.recent {
		if r.ok && r.seq == seq && r.idx == idx {
			return true
		}
	}
	return false
}

// heard notes when we first learned that segment seq exists: the reference
// of every neighbour's announcement lag.
func (e *Engine) heard(seq uint64, now time.Time) time.Time {
	t, ok := e.born[seq]
	if !ok {
		e.born[seq] = now
		t = now
	}
	return t
}

// observeLag records that nb announced pieces [first, first+count) of seq now.
func (e *Engine) observeLag(nb *neighbour, seq uint64, first, count int, now time.Time) {
	if !e.cfg.Push || nb.upKbps == 0 {
		return
	}
	lag := float64(now.Sub(e.heard(seq, now))) / float64(time.Millisecond)
	s := e.segs[seq]
	if s == nil || s.rec == nil {
		return // substreams need the piece count
	}
	t := nb.push.track()
	for i := first; i < first+count && i < s.pieces(); i++ {
		j := substream(s, i)
		if t.lagN[j] == 0 {
			t.lag[j] = lag
		} else {
			t.lag[j] += lagAlpha * (lag - t.lag[j])
		}
		t.lagN[j]++
	}
}

// chooseParents subscribes each substream to the neighbour that announces
// it earliest and tells every neighbour whose share changed.
func (e *Engine) chooseParents() {
	if !e.cfg.Push || !e.p2p() {
		return
	}
	var want [substreams]*neighbour
	for j := range substreams {
		var cur, best *neighbour
		bestLag, curLag := math.Inf(1), 0.0
		for _, nb := range e.nbList {
			lag, ok := nb.push.lag(j)
			if !nb.hello || nb.upKbps == 0 || nb.chokesUs || !ok {
				continue
			}
			if nb.push.subOut&(1<<j) != 0 {
				cur, curLag = nb, lag
			}
			if lag < bestLag {
				best, bestLag = nb, lag
			}
		}
		if cur != nil && curLag <= bestLag+float64(parentMargin/time.Millisecond) {
			best = cur
		}
		want[j] = best
	}
	for _, nb := range e.nbList {
		var mask uint32
		for j, p := range want {
			if p == nb {
				mask |= 1 << j
			}
		}
		if nb.hello && mask != nb.push.subOut {
			nb.push.subOut = mask
			e.send(nb, wire.Subscribe{Substreams: substreams, Mask: mask})
		}
	}
}

// onSubscribe applies a neighbour's SUBSCRIBE. One with another substream
// count than ours cannot be served (a later version's): pull only.
func (e *Engine) onSubscribe(nb *neighbour, m wire.Subscribe) {
	if m.Substreams != substreams {
		nb.push.subIn = 0
		return
	}
	nb.push.subIn = m.Mask
}

// pushOut queues piece i of s, just verified, for every neighbour that
// subscribed to its substream and has not announced it, as far as the push
// backlog allows.
func (e *Engine) pushOut(s *segment, i int) {
	if !e.cfg.Push || !e.uploads() || !e.p2p() {
		return
	}
	bit := uint32(1) << substream(s, i)
	for _, nb := range e.nbList {
		if nb.push.subIn&bit == 0 || !nb.hello || nb.weChoke || nb.have.Get(s.id.Seq).Has(i) {
			continue
		}
		if e.up.push(nb, job{seg: s, idx: i}) {
			nb.push.remember(s.id.Seq, i)
			e.stats.Pushed++
		} else {
			// The child counts on this piece from us (expectPush): tell it to
			// look elsewhere now rather than at its timeout.
			e.send(nb, wire.Reject{Segment: s.id, First: uint32(i), Count: 1, Reason: wire.ReasonOverCap})
		}
	}
}

// expectPush: nb, our parent for their substreams, announced pieces
// [first, first+count) of seq; those we lack and have not asked anyone for
// are on their way to us. They count as requested from nb, so the scheduler
// asks nobody else for them unless nb is late (its timeout) or refuses.
func (e *Engine) expectPush(nb *neighbour, seq uint64, first, count int, now time.Time) {
	if nb.push.subOut == 0 {
		return
	}
	s := e.segs[seq]
	if s == nil || s.rec == nil || s.complete {
		return
	}
	for i := first; i < first+count && i < s.pieces(); i++ {
		if nb.push.subOut&(1<<substream(s, i)) != 0 && !s.have.Has(i) && !e.pending.asked(seq, i) {
			e.pending.add(pendKey{seq, i, nb.id}, now)
		}
	}
}

// maxEarlyPieces bounds the pieces held before their segment's record (4 MiB).
const maxEarlyPieces = 256

// earlyPiece is a PIECE that came before we could verify it: pushed pieces of
// a fresh segment often overtake our playlist poll and record fetch.
type earlyPiece struct {
	from string
	msg  wire.Piece
}

// holdEarly keeps m from nb until segment m.Segment's record is there
// (docs/wire.md "Verifying pieces": bounded memory), and reports whether it
// did. A segment we do not list yet pokes the playlist poll.
func (e *Engine) holdEarly(nb *neighbour, m wire.Piece, now time.Time) bool {
	if e.earlyN >= maxEarlyPieces {
		return false
	}
	s := e.segs[m.Segment.Seq]
	if s != nil && (s.id.Epoch != m.Segment.Epoch || s.rec != nil || s.recTries >= maxRecordTries) {
		return false
	}
	if s == nil {
		if _, ok := e.announced(nb, m.Segment, int(m.Index)+1); !ok {
			return false
		}
		e.announcedNew(m.Segment.Seq, now)
	}
	e.early[m.Segment.Seq] = append(e.early[m.Segment.Seq], earlyPiece{nb.id, m})
	e.earlyN++
	return true
}

// releaseEarly verifies the pieces held for seq now that its record is there.
func (e *Engine) releaseEarly(seq uint64, now time.Time) {
	held := e.early[seq]
	e.dropEarly(seq)
	for _, p := range held {
		if nb := e.nbs[p.from]; nb != nil && p.msg.Segment.Epoch == e.segs[seq].id.Epoch {
			e.onPiece(nb, p.msg, now)
		}
	}
}

func (e *Engine) dropEarly(seq uint64) {
	e.earlyN -= len(e.early[seq])
	delete(e.early, seq)
}

// deferHave reports whether nb's announcement of piece i of s is held back
// (pushGrace): i is in a substream we subscribed to from another neighbour,
// which has not announced it yet, and we lack it.
func (e *Engine) deferHave(nb *neighbour, s *segment, i int, now time.Time) bool {
	if !e.cfg.Push || s == nil || s.rec == nil || s.complete || i >= s.pieces() || s.have.Has(i) || len(nb.push.held) >= maxDeferred {
		return false
	}
	bit := uint32(1) << substream(s, i)
	if nb.push.subOut&bit != 0 {
		return false
	}
	for _, p := range e.nbList {
		if p != nb && p.push.subOut&bit != 0 && !p.have.Get(s.id.Seq).Has(i) {
			at := now.Add(pushGrace)
			nb.push.held = append(nb.push.held, deferred{s.id.Seq, i, at})
			if e.heldWake.IsZero() || at.Before(e.heldWake) {
				e.heldWake = at
			}
			return true
		}
	}
	return false
}

// releaseHeld applies the held-back announcements whose grace is over (or
// whose segment we completed or forgot), and sets heldWake to the next.
func (e *Engine) releaseHeld(now time.Time) {
	if e.heldWake.IsZero() || now.Before(e.heldWake) {
		return
	}
	e.heldWake = time.Time{}
	for _, nb := range e.nbList {
		kept := nb.push.held[:0]
		for _, d := range nb.push.held {
			s := e.segs[d.seq]
			switch {
			case s == nil || s.complete || s.have.Has(d.idx):
				// nothing to announce any more
			case !now.Before(d.at):
				nb.have.Set(d.seq, growSet(nb.have.Get(d.seq), d.idx, 1))
				e.dirty = true
			default:
				kept = append(kept, d)
				if e.heldWake.IsZero() || d.at.Before(e.heldWake) {
					e.heldWake = d.at
				}
			}
		}
		nb.push.held = kept
	}
}
