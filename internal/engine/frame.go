package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// ReasonBadPiece is the Report reason for a piece that failed verification.
const ReasonBadPiece = "hash_mismatch"

func (e *Engine) onLinkUp(ev LinkUp, now time.Time) {
	id := ev.Remote
	if ev.Session != e.sess || e.sess == 0 || e.distrust[id] || !e.p2p() || id == e.self {
		e.emit(CloseLink{Link: ev.Link, Why: "not accepted"})
		return
	}
	if old := e.nbs[id]; old != nil {
		e.drop(old, "replaced")
	}
	if len(e.nbs) >= e.cfg.MaxNeighbours {
		e.emit(CloseLink{Link: ev.Link, Why: "neighbour limit"})
		return
	}
	nb := newNeighbour(id, ev.Link, ev.Session, now)
	e.nbs[id] = nb
	e.nbList, e.nbLinks = append(e.nbList, nb), append(e.nbLinks, ev.Link)
	kbps := uint32(min(e.cfg.UploadCapacity/1000, 1<<32-1))
	if !e.uploads() {
		kbps = 0
	}
	e.send(nb, wire.Hello{MaxVersion: wire.Version, Stream: e.cfg.Stream, Rendition: e.cfg.Rendition, PeerID: e.self, UploadKbps: kbps})
}

// drop forgets nb and closes its link.
func (e *Engine) drop(nb *neighbour, why string) {
	if e.nbs[nb.id] != nb {
		return
	}
	e.dirty = true // its requests go elsewhere
	e.log.Debug("engine: neighbour gone", "peer", nb.id, "why", why)
	delete(e.nbs, nb.id)
	if i := slices.Index(e.nbList, nb); i >= 0 {
		e.nbList, e.nbLinks = slices.Delete(e.nbList, i, i+1), slices.Delete(e.nbLinks, i, i+1)
	}
	e.up.cancel(nb, nil, 0, 0)
	e.pending.delFunc(func(k pendKey) bool { return k.from == nb.id })
	e.emit(CloseLink{Link: nb.link, Why: why})
}

// violation closes nb for a protocol violation: not reconnected this session.
func (e *Engine) violation(nb *neighbour, format string, args ...any) {
	e.log.Info("engine: protocol violation", "peer", nb.id, "err", fmt.Sprintf(format, args...))
	e.distrust[nb.id] = true
	e.drop(nb, "protocol violation")
}

func (e *Engine) onFrame(nb *neighbour, m wire.Msg, now time.Time) {
	if !nb.hello {
		h, ok := m.(wire.Hello)
		if !ok {
			if len(nb.early) >= maxEarlyFrames {
				e.violation(nb, "more than %d frames before HELLO", maxEarlyFrames)
				return
			}
			nb.early = append(nb.early, m)
			return
		}
		if h.Stream != e.cfg.Stream || h.Rendition != e.cfg.Rendition || h.PeerID != nb.id {
			e.violation(nb, "wrong swarm HELLO %s/%s from %q", h.Stream, h.Rendition, h.PeerID)
			return
		}
		nb.hello, nb.upKbps = true, h.UploadKbps
		for _, seq := range e.order {
			if s := e.segs[seq]; s.verified > 0 {
				e.send(nb, s.wireBitfield())
			}
		}
		if e.uploads() {
			nb.serialOut++
			nb.weChoke = false
			e.send(nb, wire.Unchoke{Serial: nb.serialOut})
		}
		early := nb.early
		nb.early = nil
		for _, em := range early {
			if e.nbs[nb.id] != nb {
				return
			}
			e.onFrame(nb, em, now)
		}
		return
	}
	switch m := m.(type) {
	case wire.Hello:
		e.violation(nb, "second HELLO")
	case wire.BitfieldMsg:
		e.onBitfield(nb, m, now)
	case wire.Have:
		if bf, ok := e.announced(nb, m.Segment, int(m.First+m.Count)); ok {
			if e.cfg.Push {
				s := e.segs[m.Segment.Seq]
				for i := int(m.First); i < int(m.First+m.Count); i++ {
					if !e.deferHave(nb, s, i, now) {
						bf = growSet(bf, i, 1)
					}
				}
			} else {
				bf = growSet(bf, int(m.First), int(m.Count)) // the hot path: one range
			}
			if len(nb.refused) > 0 {
				bf = nb.unrefused(m.Segment.Seq, bf)
			}
			nb.have.Set(m.Segment.Seq, bf)
			e.announcedNew(m.Segment.Seq, now)
			e.observeLag(nb, m.Segment.Seq, int(m.First), int(m.Count), now)
			e.expectPush(nb, m.Segment.Seq, int(m.First), int(m.Count), now)
		}
	case wire.Request:
		e.onRequest(nb, m)
	case wire.Piece:
		e.onPiece(nb, m, now)
	case wire.Cancel:
		e.up.cancel(nb, &m.Segment, int(m.First), int(m.Count))
	case wire.Reject:
		if s := e.segs[m.Segment.Seq]; s != nil && s.id.Epoch == m.Segment.Epoch {
			for i := int(m.First); i < int(m.First+m.Count); i++ {
				e.pending.del(pendKey{m.Segment.Seq, i, nb.id})
			}
			if m.Reason == wire.ReasonUnknownSegment && s.rec != nil {
				// It does not list a segment it announced: all of it is refused.
				nb.onReject(m.Segment.Seq, 0, s.pieces(), wire.ReasonNotHeld, now)
			}
			nb.onReject(m.Segment.Seq, int(m.First), int(m.Count), m.Reason, now)
			e.noteBusy(nb, now)
		}
	case wire.Choke:
		if nb.onChoke(m.Serial, true) {
			e.pending.delFunc(func(k pendKey) bool { return k.from == nb.id }) // void: re-requested elsewhere
		}
	case wire.Unchoke:
		nb.onChoke(m.Serial, false)
	case wire.Subscribe:
		e.onSubscribe(nb, m)
	case wire.Ping:
		e.send(nb, wire.Pong{Token: m.Token})
	case wire.Pong:
		if m.Token == nb.pingToken && !nb.pingSent.IsZero() {
			nb.rtt, nb.lastPong = now.Sub(nb.pingSent), now
		}
	}
}

// changesPlan reports whether frame m from nb can change the scheduler's
// plan (every other event can). A REQUEST, CANCEL, PING or SUBSCRIBE only
// touches the upload line; a PONG's RTT waits for the next plan; an
// announcement counts only where announcementMatters says so; a PIECE only
// if the last plan was Blocked or another source still has it in flight.
// Each plan skipped decides nothing that the plan at the next input or
// Wake would not: that is what lets the virtual-time bench run 10,000
// viewers (docs/benchmarks.md "Cost of the virtual bench").
func changesPlan(e *Engine, nb *neighbour, m wire.Msg, now time.Time) bool {
	switch m := m.(type) {
	case wire.Request, wire.Cancel, wire.Ping, wire.Subscribe, wire.Pong:
		return false // a Pong's RTT is read by the next plan
	case wire.Have:
		return e.announcementMatters(nb, m.Segment, int(m.First), int(m.Count), now)
	case wire.BitfieldMsg:
		return e.announcementMatters(nb, m.Segment, 0, -1, now)
	case wire.Piece:
		// It frees room in nb's in-flight bound, which matters only if the
		// last plan left a piece waiting for room; or a copy of it is still
		// asked of another source, which the plan cancels.
		if e.blocked {
			return true
		}
		n := e.pending.pieces[pieceID{m.Segment.Seq, int(m.Index)}]
		if nb != nil {
			if _, ok := e.pending.get(pendKey{m.Segment.Seq, int(m.Index), nb.id}); ok {
				n--
			}
		}
		return n > 0
	}
	return true
}

// announcementMatters reports whether nb announcing pieces [first,
// first+count) of segment id (count < 0: its whole bitfield) can change the
// plan: not if we do not schedule that segment (no record yet, complete,
// another epoch, one behind our window), nor if nb serves nothing or
// chokes us now (the plan counts its pieces as held, which only ever
// delays an edge fallback), nor if every piece named is held or asked for.
func (e *Engine) announcementMatters(nb *neighbour, id wire.SegmentID, first, count int, now time.Time) bool {
	s := e.segs[id.Seq]
	if s == nil {
		// One we do not list yet may poke the playlist poll.
		return len(e.order) == 0 || id.Seq > e.order[len(e.order)-1]
	}
	if s.rec == nil || s.complete || s.id.Epoch != id.Epoch {
		return false
	}
	if nb != nil && nb.hello && !nb.servesNow(now) {
		return false
	}
	if count < 0 {
		return true
	}
	for i := first; i < first+count; i++ {
		if i >= s.pieces() || (!s.have.Has(i) && !e.pending.asked(s.id.Seq, i)) {
			return true
		}
	}
	return false
}

// rejectMatters reports whether nb's REJECT over_cap r, already applied
// (its pieces no longer asked of nb, nb backing off), can change the plan:
// only if a piece it names, neither held nor asked of anyone else, has
// another holder that could take a request now, or its segment is urgent
// (the edge takes what the swarm refused). Otherwise the plan would wait
// for a holder as before, and the next plan is no later than the
// segment's urgent moment. Half the plans at 500 viewers followed a
// REJECT, and a third of those decided nothing (docs/benchmarks.md "Fewer
// plans").
func (e *Engine) rejectMatters(nb *neighbour, r wire.Reject, now time.Time) bool {
	s := e.segs[r.Segment.Seq]
	if s == nil || s.rec == nil || s.complete || s.id.Epoch != r.Segment.Epoch {
		return false
	}
	dl, ok := e.deadline(s)
	if !ok {
		return false // not scheduled: the plan does not look at it
	}
	ua := dl.Add(-e.urgent)
	if !now.Before(ua) {
		return true
	}
	for i := int(r.First); i < int(r.First+r.Count) && i < s.pieces(); i++ {
		if s.have.Has(i) || e.pending.asked(s.id.Seq, i) {
			continue
		}
		for _, o := range e.nbList {
			if o != nb && o.hello && o.servesNow(now) && o.have.Get(s.id.Seq).Has(i) {
				return true
			}
		}
	}
	e.planBy(ua)
	return false
}

// announced returns nb's map for segment id if an announcement up to piece
// end is acceptable: our segment of that seq has that epoch and at least that
// many pieces, or (a segment we do not list yet) it is not too far ahead.
func (e *Engine) announced(nb *neighbour, id wire.SegmentID, end int) (scheduler.Bitfield, bool) {
	if s := e.segs[id.Seq]; s != nil {
		if s.id.Epoch != id.Epoch || (s.rec != nil && end > s.pieces()) {
			return nil, false
		}
		return nb.have.Get(id.Seq), true
	}
	n := len(e.order)
	if n == 0 || id.Seq < e.order[0] || id.Seq > e.order[n-1]+maxFutureSegs {
		return nil, false
	}
	return nb.have.Get(id.Seq), true
}

// announcedNew pokes the playlist poll when a neighbour announced a segment
// newer than any we list: its playlist is fresher, and the sooner we know the
// segment (and fetch its record) the sooner we can pull it.
func (e *Engine) announcedNew(seq uint64, now time.Time) {
	if n := len(e.order); n > 0 && seq > e.order[n-1] {
		e.poke(now)
	}
}

func (e *Engine) onBitfield(nb *neighbour, m wire.BitfieldMsg, now time.Time) {
	if m.Pieces == 0 {
		nb.have.Delete(m.Segment.Seq)
		return
	}
	if s := e.segs[m.Segment.Seq]; s != nil && s.id.Epoch == m.Segment.Epoch && s.rec != nil && int(m.Pieces) != s.pieces() {
		e.violation(nb, "BITFIELD of %s has %d pieces, record %d", m.Segment, m.Pieces, s.pieces())
		return
	}
	bf, ok := e.announced(nb, m.Segment, int(m.Pieces))
	if !ok {
		return
	}
	e.announcedNew(m.Segment.Seq, now)
	for i := range int(m.Pieces) {
		if m.Bits.Has(i) {
			bf = growSet(bf, i, 1)
		}
	}
	if len(nb.refused) > 0 {
		bf = nb.unrefused(m.Segment.Seq, bf)
	}
	nb.have.Set(m.Segment.Seq, bf)
}

func (e *Engine) onRequest(nb *neighbour, m wire.Request) {
	reject := func(first, count int, r wire.Reason) {
		e.send(nb, wire.Reject{Segment: m.Segment, First: uint32(first), Count: uint32(count), Reason: r})
	}
	first, count := int(m.First), int(m.Count)
	if nb.weChoke {
		reject(first, count, wire.ReasonChoked)
		return
	}
	s := e.segs[m.Segment.Seq]
	if s == nil || s.id.Epoch != m.Segment.Epoch || s.rec == nil {
		reject(first, count, wire.ReasonUnknownSegment)
		return
	}
	var jobs []job
	runStart := -1
	for i := first; i <= first+count; i++ {
		held := i < first+count && s.have.Has(i)
		missing := i < first+count && !held
		switch {
		case missing && runStart < 0:
			runStart = i
		case !missing && runStart >= 0:
			reject(runStart, i-runStart, wire.ReasonNotHeld)
			runStart = -1
		}
		// A piece already pushed (or queued) to nb: that PIECE answers the request.
		if held && !nb.queuedFor(s.id.Seq, i) && !nb.push.wasPushed(s.id.Seq, i) {
			seeded := e.stripe.Count > 0 && scheduler.StripeOf(s.id.Seq, i, s.pieces(), e.stripe.Count) == e.stripe.Index
			jobs = append(jobs, job{seg: s, idx: i, seeded: seeded})
		}
	}
	if len(jobs) > 0 {
		// Over the cap: refuse the held pieces that did not fit, in contiguous runs.
		evict := e.withdraw
		if e.vod.on { // on demand, a lower seq is not sooner due: viewers are spread over the title
			evict = nil
		}
		jobs = jobs[e.up.enqueue(nb, jobs, e.nbList, evict):]
		for j := 0; j < len(jobs); {
			k := j + 1
			for k < len(jobs) && jobs[k].idx == jobs[k-1].idx+1 {
				k++
			}
			reject(jobs[j].idx, k-j, wire.ReasonOverCap)
			j = k
		}
	}
}

// withdrawPiece tells o that its queued piece v was withdrawn to make room
// (uploader.displace).
func (e *Engine) withdrawPiece(o *neighbour, v job) {
	e.send(o, wire.Reject{Segment: v.seg.id, First: uint32(v.idx), Count: 1, Reason: wire.ReasonOverCap})
}

func (e *Engine) onPiece(nb *neighbour, m wire.Piece, now time.Time) {
	idx := int(m.Index)
	key := pendKey{m.Segment.Seq, idx, nb.id}
	since, requested := e.pending.get(key)
	e.pending.del(key)
	s := e.segs[m.Segment.Seq]
	if s == nil || s.id.Epoch != m.Segment.Epoch || s.rec == nil {
		if requested {
			e.pending.add(key, since) // still on its way to being verified
		}
		if !e.holdEarly(nb, m, now) {
			e.pending.del(key)
			e.stats.BytesWasted += int64(len(m.Data)) // out of our window, cannot verify it: dropped
		}
		return
	}
	stored, err := s.store(idx, m.Data)
	if err != nil {
		e.badPiece(nb, s, idx, err)
		return
	}
	if !requested {
		since = time.Time{}
	}
	nb.delivered(len(m.Data), since, now)
	if !stored {
		if requested {
			e.stats.BytesDup += int64(len(m.Data)) // two sources raced for it
		} else {
			e.stats.BytesWasted += int64(len(m.Data)) // cancelled or timed out, then arrived
		}
		return
	}
	e.stats.BytesP2P += int64(len(m.Data))
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		if dl, ok := e.deadline(s); ok {
			e.log.Debug("engine: piece", "seq", s.id.Seq, "piece", idx, "from", nb.id, "lead_ms", dl.Sub(now).Milliseconds(), "wait_ms", now.Sub(since).Milliseconds())
		}
	}
	e.verified(s, idx, now)
}

// badPiece handles a piece that failed verification: drop it, drop and report
// the sender, never use it again this session. The piece stays missing, so the
// scheduler fetches it elsewhere (the edge when its deadline is near).
func (e *Engine) badPiece(nb *neighbour, s *segment, idx int, err error) {
	e.stats.BadPieces++
	e.log.Warn("engine: bad piece from neighbour", "peer", nb.id, "segment", s.id, "piece", idx, "err", err)
	e.distrust[nb.id] = true
	if e.sess != 0 && nb.sess == e.sess {
		e.emit(Report{Session: e.sess, Peer: nb.id, Segment: s.id, Piece: idx, Reason: ReasonBadPiece})
	}
	e.drop(nb, "bad piece")
}
