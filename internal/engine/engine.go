package engine

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/player"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Bounds on the engine's state.
const (
	maxRecordTries = 5  // per segment before giving up on it
	maxFutureSegs  = 16 // segments a neighbour may announce beyond our playlist
	keepBehind     = 3  // segments kept behind the playhead
	// demandKeep: a segment a local player asked for stays this long.
	demandKeep   = 30 * time.Second
	housekeeping = time.Second
	// minPoll: playlist fetches at most this often.
	minPoll = 250 * time.Millisecond
	// firstPollRetry: the wait after a failed fetch before any playlist.
	firstPollRetry = time.Second
	recordBackoff  = 250 * time.Millisecond // × tries
	minWake        = time.Millisecond       // the earliest Wake after a Ready
)

// DefaultPlanGap is Config.PlanGap's default: while the player plays on,
// the inputs of 10 ms wait for one plan. A piece's hop through the swarm
// takes 0.2–0.3 s and the urgent window is 0.5–1.5 s, so no decision that
// matters waits long, and a third of the plans go (docs/benchmarks.md
// "Fewer plans"). Starting or stalled, a plan is made at once.
const DefaultPlanGap = 10 * time.Millisecond

// Engine is the viewer core. The zero value is not usable: call New. It is
// not safe for concurrent use: one goroutine (or one simulation) drives it.
type Engine struct {
	cfg Config
	log *slog.Logger

	segs   map[uint64]*segment
	order  []uint64 // seqs of segs, ascending
	target time.Duration
	pl     *player.Player

	nbs      map[string]*neighbour
	nbList   []*neighbour // nbs in arrival order: the upload line's tie order
	nbLinks  []LinkID     // nbList's links, index by index: a frame's lookup scans 20 words, not a map
	distrust map[string]bool

	sess      SessionID // 0: none
	self      string
	policy    Policy
	hasPolicy bool
	stripe    scheduler.Stripe
	up        uploader

	pending inflight
	newHave map[uint64][]int
	born    map[uint64]time.Time // when we first heard of each segment (push.go)
	early   map[uint64][]earlyPiece
	earlyN  int
	// heldWake is when the next held-back announcement is due (push.go).
	heldWake time.Time
	edgeT    edgeTimer
	urgent   time.Duration
	withdraw func(*neighbour, job) // e.withdrawPiece, made once: a REQUEST over the cap must not allocate

	polling, pollSoon  bool
	nextPoll, lastPoke time.Time
	nextHouse          time.Time
	planWake           time.Time
	lastReady          time.Time
	// The last plan's inputs that change without an event: see schedule.
	dirty    bool
	lastPlan time.Time
	lastSegs []scheduler.Segment
	nextBusy time.Time
	busySeen time.Time           // back-offs ended by then were looked at
	blocked  bool                // the last plan left a piece waiting for room at a holder
	planGen  uint64              // the player's Gen when lastSegs was made
	noRec    int                 // segments without their record yet
	recScan  bool                // fetchRecords has something to look at
	segBuf   []scheduler.Segment // reused by every plan: the scheduler only reads them

	out   []Action
	stats Stats

	vod vodState // on-demand playback (vod.go); zero for live
	// joined is when New ran; startLogged once logStart has logged.
	joined      time.Time
	startLogged bool
	start       start
}

// New returns an engine that joined at now.
func New(cfg Config, now time.Time) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg: cfg, log: cfg.Logger,
		segs:      make(map[uint64]*segment),
		pl:        player.New(cfg.Player, now),
		nbs:       make(map[string]*neighbour),
		distrust:  make(map[string]bool),
		newHave:   make(map[uint64][]int),
		born:      make(map[uint64]time.Time),
		early:     make(map[uint64][]earlyPiece),
		urgent:    maxUrgent,
		nextHouse: now.Add(housekeeping),
	}
	e.withdraw = e.withdrawPiece
	e.joined = now
	e.setRate()
	return e
}

// Step takes one event that happened at now. Its actions come with the next
// Ready.
func (e *Engine) Step(now time.Time, ev Event) {
	if f, ok := ev.(FrameReceived); ok { // most events: one lookup
		nb := e.byLink(f.Link)
		if r, ok := f.Msg.(wire.Reject); ok && nb != nil && r.Reason == wire.ReasonOverCap {
			e.onFrame(nb, r, now) // what it changes is known once it is applied
			e.dirty = e.dirty || e.rejectMatters(nb, r, now)
			return
		}
		e.dirty = e.dirty || changesPlan(e, nb, f.Msg, now)
		if nb != nil {
			e.onFrame(nb, f.Msg, now)
		}
		return
	}
	switch ev.(type) {
	case Tick, PieceSent, PlaylistFetched: // a playlist sets dirty if it changes a segment
	default:
		e.dirty = true
	}
	switch ev := ev.(type) {
	case Tick:
	case PlaylistFetched:
		e.onPlaylist(ev, now)
	case RecordFetched:
		e.onRecord(ev, now)
	case EdgeFetched:
		e.onEdge(ev, now)
	case SessionUp:
		e.sess, e.self = ev.Session, ev.PeerID
		e.setPolicy(ev.Policy)
		e.setStripe(ev.Stripe)
	case StripeChanged:
		if ev.Session == e.sess {
			e.setStripe(ev.Stripe)
		}
	case PolicyChanged:
		if ev.Session == e.sess {
			e.setPolicy(ev.Policy)
		}
	case NeighboursRemoved:
		for _, id := range ev.IDs {
			if nb := e.nbs[id]; nb != nil && nb.sess == ev.Session {
				e.drop(nb, "removed by tracker")
			}
		}
	case SessionDown:
		if e.sess == ev.Session {
			e.sess = 0 // links stay up: P2P goes on without the tracker
		}
	case LinkUp:
		e.onLinkUp(ev, now)
	case LinkDown:
		if nb := e.byLink(ev.Link); nb != nil {
			if ev.Err != nil {
				e.log.Debug("engine: neighbour protocol violation", "peer", nb.id, "err", ev.Err)
				e.distrust[nb.id] = true
			}
			e.drop(nb, "link down")
		}
	case PieceSent:
		if nb := e.byLink(ev.Link); nb != nil {
			e.up.written(nb)
		}
	case Demand:
		if s := e.segs[ev.Seq]; s != nil && s.id.Epoch == ev.Epoch && s.demand.IsZero() {
			s.demand = now
			e.recScan = true
			e.vodDemand(ev.Seq, now)
		}
	case Seek:
		e.onSeek(ev, now)
	}
}

// Ready runs the decisions due at now and returns every action since the
// last Ready. The slice is the engine's: valid until the next Step.
func (e *Engine) Ready(now time.Time) []Action {
	e.lastReady = now
	if !now.Before(e.nextHouse) {
		e.nextHouse = now.Add(housekeeping)
		e.housekeep(now)
	}
	stalled := e.pl.Stalled()
	e.pl.Advance(now)
	if !stalled && e.pl.Stalled() {
		head, _ := e.pl.Playhead()
		e.log.Debug("engine: stall", "seq", head) // the segment it waits for
	}
	e.vodReady(now)
	e.fetchRecords(now)
	e.flushHaves()
	e.releaseHeld(now)
	e.schedule(now)
	e.up.release(now, e.nbList, e.sendPiece)
	e.poll(now)
	out := e.out
	e.out = e.out[:0:0]
	return out
}

// Wake is the next moment Ready has something to do with no new event.
func (e *Engine) Wake() time.Time {
	w := e.nextHouse
	at := func(t time.Time) {
		if !t.IsZero() && t.Before(w) {
			w = t
		}
	}
	at(e.planWake)
	at(e.up.wake)
	at(e.heldWake)
	if !e.polling {
		at(e.nextPoll)
	}
	if e.cfg.Tick > 0 {
		at(e.lastReady.Add(e.cfg.Tick))
	}
	at(e.nextBusy)
	at(e.vod.goalWake)
	for _, seq := range e.wanted() {
		if e.noRec == 0 {
			break // every segment has its record: nothing to retry
		}
		if s := e.segs[seq]; s.rec == nil && !s.recLoading && s.recTries < maxRecordTries && s.recRetry.After(e.lastReady) {
			at(s.recRetry)
		}
	}
	// Never "now": a caller that sleeps until Wake must not spin.
	if !w.After(e.lastReady) {
		w = e.lastReady.Add(minWake)
	}
	return w
}

// byLink is the neighbour on link l, nil if none.
func (e *Engine) byLink(l LinkID) *neighbour {
	for i, id := range e.nbLinks {
		if id == l {
			return e.nbList[i]
		}
	}
	return nil
}

// SelfID is our tracker id ("" without a session).
func (e *Engine) SelfID() string {
	if e.sess == 0 {
		return ""
	}
	return e.self
}

// Segment reports what the engine holds of segment seq of epoch: its
// duration, and whether it is in the window.
func (e *Engine) Segment(seq uint64, epoch string) (dur time.Duration, ok bool) {
	s := e.segs[seq]
	if s == nil || s.id.Epoch != epoch {
		return 0, false
	}
	return s.dur, true
}

func (e *Engine) emit(a Action) { e.out = append(e.out, a) }

func (e *Engine) send(nb *neighbour, m wire.Msg) { e.emit(Send{Link: nb.link, Msg: m}) }

func (e *Engine) sendPiece(nb *neighbour, j job) {
	e.send(nb, wire.Piece{Segment: j.seg.id, Index: uint32(j.idx), Data: j.seg.data[j.idx]})
	e.stats.BytesUp += j.size()
}

// p2p reports whether neighbours may be used now.
func (e *Engine) p2p() bool { return e.cfg.Swarm && (!e.hasPolicy || e.policy.P2P) }

// uploads reports whether we serve neighbours.
func (e *Engine) uploads() bool { return e.cfg.MaxUpload >= 0 && e.cfg.UploadCapacity > 0 }

func (e *Engine) setRate() {
	rate := e.cfg.MaxUpload
	if p := e.policy.MaxUpload; e.hasPolicy && p > 0 && (rate <= 0 || p < rate) && e.cfg.MaxUpload >= 0 {
		rate = p
	}
	e.up.setRate(max(rate, 0))
}

func (e *Engine) setPolicy(p Policy) {
	e.policy, e.hasPolicy = p, true
	e.setRate()
	if !p.P2P {
		for _, nb := range slices.Clone(e.nbList) {
			e.drop(nb, "P2P disabled by policy")
		}
	}
}

// setStripe installs the tracker's seeding assignment; the scheduler's
// stripe rule applies it (to every segment due later than Urgent +
// SeedMargin, so at once to those already in the window).
func (e *Engine) setStripe(st scheduler.Stripe) {
	if st.Count <= 0 || st.Index < 0 || st.Index >= st.Count {
		st = scheduler.Stripe{}
	}
	if st != e.stripe {
		e.log.Debug("engine: seeding assignment", "index", st.Index, "count", st.Count)
		e.stripe = st
	}
}

// poll asks for the playlist when it is due: every half target duration, a
// seeder every quarter (at least minPoll apart; the edge caches a playlist
// for about that long, so faster polls mostly fetch the same copy): the seeder's stripe must be
// in the swarm as early as possible, since the whole swarm has only the few
// seconds between publication and the deadline to spread it, and every
// fetch is one small, edge-cached playlist. Others refetch early when a
// neighbour announces a segment they do not list (poke).
func (e *Engine) poll(now time.Time) {
	if e.polling || now.Before(e.nextPoll) || e.vod.ended {
		return
	}
	e.polling, e.pollSoon = true, false
	e.emit(FetchPlaylist{})
}

// pollWait is the wait after a fetch before the next.
func (e *Engine) pollWait() time.Duration {
	if e.target <= 0 {
		return firstPollRetry
	}
	w := min(5*time.Second, max(minPoll, e.target/2))
	if e.stripe.Count > 0 {
		w = max(minPoll, w/2)
	}
	return w
}

// poke makes the next playlist fetch happen now: a neighbour announced a
// segment we do not list yet (its playlist is fresher than ours). At most
// one poke per minPoll, so announcements cannot make us hammer the edge.
func (e *Engine) poke(now time.Time) {
	if now.Sub(e.lastPoke) < minPoll {
		return
	}
	e.lastPoke = now
	if e.polling {
		e.pollSoon = true
	} else {
		e.nextPoll = now
	}
}

func (e *Engine) onPlaylist(ev PlaylistFetched, now time.Time) {
	e.polling = false
	defer func() {
		e.nextPoll = now.Add(e.pollWait())
		if e.pollSoon {
			e.nextPoll, e.pollSoon = now, false
		}
	}()
	if ev.Err != nil || len(ev.Entries) == 0 {
		if ev.Err != nil {
			e.log.Info("engine: playlist", "err", ev.Err)
		}
		return
	}
	if e.target != ev.Target || (ev.Ended && !e.vod.ended) {
		e.dirty = true
	}
	e.target = ev.Target
	e.vodPlaylist(ev.Ended)
	for _, en := range ev.Entries {
		if s := e.segs[en.Seq]; s != nil {
			if s.id.Epoch != en.Epoch || s.uri != en.URI {
				e.log.Warn("engine: segment identity changed; dropping it", "seq", en.Seq)
				e.evict(en.Seq)
			} else {
				continue
			}
		}
		newEpoch := false
		if n := len(e.order); n > 0 {
			if en.Seq < e.order[n-1] {
				continue // older than what we know: it slid back into view, ignore
			}
			newEpoch = e.segs[e.order[n-1]].id.Epoch != en.Epoch
		}
		e.dirty = true
		e.segs[en.Seq] = newSegment(en, now)
		e.noRec++
		e.heard(en.Seq, now)
		e.recScan = true
		e.order = append(e.order, en.Seq)
		if err := e.pl.Publish(player.Segment{Seq: en.Seq, Duration: en.Dur, Published: en.Published(now), NewEpoch: newEpoch}); err != nil {
			e.log.Warn("engine: player model", "err", err)
		}
	}
	// Segments that left the playlist leave the window: bounded memory.
	first := ev.Entries[0].Seq
	for len(e.order) > 0 && e.order[0] < first {
		e.evict(e.order[0])
	}
}

// evict forgets segment seq and everything about it; neighbours are told
// when it leaves before the playlist's window does.
func (e *Engine) evict(seq uint64) {
	s := e.segs[seq]
	e.dirty = true
	if s == nil {
		return
	}
	e.dirty = true
	if s.rec == nil {
		e.noRec--
	}
	if s.verified > 0 {
		for _, nb := range e.nbList {
			if nb.hello {
				e.send(nb, wire.BitfieldMsg{Segment: s.id})
			}
		}
	}
	for _, nb := range e.nbList {
		if len(nb.queue) > 0 {
			e.up.cancel(nb, &s.id, 0, s.pieces())
		}
		nb.forget(seq)
	}
	delete(e.segs, seq)
	if i, ok := slices.BinarySearch(e.order, seq); ok {
		e.order = slices.Delete(e.order, i, i+1)
	}
	e.pending.delFunc(func(k pendKey) bool { return k.seq == seq })
	delete(e.newHave, seq)
	e.dropEarly(seq)
	e.emit(Forget{ID: s.id})
}

// deadline is when segment s is due, and whether we fetch it now.
func (e *Engine) deadline(s *segment) (time.Time, bool) {
	dl, ok := e.pl.Deadline(s.id.Seq)
	ok = ok && e.inGoal(dl)
	if !s.demand.IsZero() && (!ok || s.demand.Before(dl)) {
		return s.demand, true
	}
	return dl, ok
}

// fetchRecords asks for the records of wanted segments that lack one. It
// looks only while some segment may need one (recScan: a new segment, a
// failed fetch, a segment not wanted yet or waiting for its retry).
func (e *Engine) fetchRecords(now time.Time) {
	if !e.recScan {
		return
	}
	e.recScan = false
	head, started := e.pl.Playhead()
	for _, seq := range e.wanted() {
		s := e.segs[seq]
		if s.rec != nil || s.recLoading || s.recTries >= maxRecordTries {
			continue
		}
		if _, ok := e.deadline(s); !ok || now.Before(s.recRetry) {
			// Behind the playhead and not asked for, a segment is never
			// wanted again (a Demand looks again).
			e.recScan = e.recScan || ok || !started || seq >= head
			continue
		}
		s.recLoading = true
		s.recTries++
		e.emit(FetchRecord{ID: s.id, URI: s.uri})
	}
}

func (e *Engine) onRecord(ev RecordFetched, now time.Time) {
	s := e.segs[ev.Seq]
	if s == nil {
		return
	}
	s.recLoading = false
	e.recScan = true
	if ev.Err != nil || ev.Rec == nil {
		e.log.Info("engine: record", "seq", ev.Seq, "err", ev.Err)
		s.recRetry = now.Add(time.Duration(s.recTries) * recordBackoff)
		return
	}
	if s.rec != nil {
		return
	}
	s.setRecord(ev.Rec)
	e.noRec--
	defer e.releaseEarly(ev.Seq, now)
	words := (s.pieces() + 63) / 64
	for _, nb := range e.nbList {
		if bf := nb.have.Get(ev.Seq); len(bf) > words {
			// They announced pieces beyond the record: trim (a liar or a stale epoch).
			nb.have.Set(ev.Seq, bf[:words])
			clearRange(bf[:words], s.pieces(), words*64-s.pieces())
		}
	}
}

// onEdge stores pieces fetched from the edge.
func (e *Engine) onEdge(ev EdgeFetched, now time.Time) {
	for i := ev.First; i < ev.First+ev.Count; i++ {
		e.pending.del(pendKey{ev.Seq, i, scheduler.Edge})
	}
	s := e.segs[ev.Seq]
	if s == nil || s.rec == nil {
		e.stats.BytesWasted += int64(len(ev.Data)) // the segment left the window meanwhile
		return
	}
	if ev.First < 0 || ev.Count < 0 || ev.First+ev.Count > s.pieces() {
		// Asked of an earlier segment of this seq (a new epoch replaced it
		// meanwhile, with fewer pieces): not a range of this record.
		e.stats.BytesWasted += int64(len(ev.Data))
		return
	}
	if ev.Err != nil {
		e.log.Info("engine: edge fetch", "seq", ev.Seq, "first", ev.First, "count", ev.Count, "err", ev.Err)
		return
	}
	e.edgeT.observe(ev.Headers.Sub(ev.Asked), ev.Done.Sub(ev.Headers), int64(len(ev.Data)))
	off, _ := s.pieceRange(ev.First)
	for i := ev.First; i < ev.First+ev.Count; i++ {
		a, b := s.pieceRange(i)
		if b-off > int64(len(ev.Data)) {
			break // short body: the rest stays missing
		}
		stored, err := s.store(i, ev.Data[a-off:b-off])
		if err != nil {
			// The edge is trusted transport: a bad piece is an operator alarm.
			e.log.Error("engine: piece from the edge failed verification", "segment", s.id, "piece", i, "err", err)
			e.stats.BadPieces++
			continue
		}
		if stored {
			e.verified(s, i, now)
		} else {
			e.stats.BytesDup += b - a
		}
	}
}

// verified runs after piece i of s was stored: announce it, tell the player.
func (e *Engine) verified(s *segment, i int, now time.Time) {
	e.newHave[s.id.Seq] = append(e.newHave[s.id.Seq], i)
	if e.cfg.ReportPieces {
		e.emit(Verified{ID: s.id, Index: i})
	}
	e.pushOut(s, i)
	if s.complete {
		e.dirty = true // it leaves the plan's segments
		e.pl.Available(s.id.Seq, now)
		var data []byte
		if !e.cfg.NoDeliverData {
			data = s.bytes()
		}
		e.emit(Deliver{ID: s.id, Data: data})
	}
}

// flushHaves announces the pieces verified since the last flush, one HAVE per
// contiguous run, segments in order.
func (e *Engine) flushHaves() {
	if len(e.newHave) == 0 {
		return
	}
	for _, seq := range e.order {
		pieces := e.newHave[seq]
		if len(pieces) == 0 {
			continue
		}
		s := e.segs[seq]
		slices.Sort(pieces)
		for j := 0; j < len(pieces); {
			k := j + 1
			for k < len(pieces) && pieces[k] == pieces[k-1]+1 {
				k++
			}
			for _, nb := range e.nbList {
				if nb.hello {
					e.announce(nb, seq, s.id, pieces[j], pieces[k-1]+1)
				}
			}
			j = k
		}
	}
	clear(e.newHave)
}

// announce sends nb a HAVE for each sub-run of pieces [from, to) of seq that
// nb has not announced itself (BitTorrent's HAVE suppression): a holder
// never asks us for those, and leaving them out takes about half of the
// HAVE frames off every link (docs/wire.md "Announcing").
func (e *Engine) announce(nb *neighbour, seq uint64, id wire.SegmentID, from, to int) {
	theirs := nb.have.Get(seq)
	for i := from; i < to; {
		if theirs.Has(i) {
			i++
			continue
		}
		j := i + 1
		for j < to && !theirs.Has(j) {
			j++
		}
		e.send(nb, wire.Have{Segment: id, First: uint32(i), Count: uint32(j - i)})
		i = j
	}
}

// schedPolicy is the scheduler's policy now. With P2P on but no neighbour
// yet (just joined, tracker away) pieces come from the edge at the
// scheduler's staggered fallback moment, still well before the urgent
// window, which leaves the time for neighbours to connect and serve them.
func (e *Engine) schedPolicy() scheduler.Policy {
	pol := e.cfg.Scheduler
	pol.P2P, pol.NoUpload, pol.Stripe = e.p2p(), !e.uploads(), e.stripe
	if e.vod.on {
		pol = vodPolicy(pol)
	}
	return pol
}

// schedule asks the scheduler what to do and does it.
func (e *Engine) schedule(now time.Time) {
	self := e.self
	if e.sess == 0 {
		self = "self"
	}
	// The plan is a function of its inputs that changes with time only at
	// its Wake: with no new input since the last plan (no event but ticks,
	// the same segments due at the same deadlines, no neighbour's back-off
	// over) and before that Wake, it would decide nothing new. The segments
	// are the same without a look while the player plays on steadily
	// (every other change to them comes with an event: dirty).
	beforeWake := e.planWake.IsZero() || now.Before(e.planWake)
	waiting := beforeWake && (e.nextBusy.IsZero() || now.Before(e.nextBusy))
	if !waiting && beforeWake && !e.dirty && !e.backoffsMatter(now) {
		e.nextBusyAfter(now) // only back-offs ended, of neighbours with nothing left to ask
		waiting = true
	}
	if !e.dirty && waiting && !e.vod.on && e.pl.Steady() && e.pl.Gen() == e.planGen {
		return
	}
	e.planGen = e.pl.Gen()
	e.logStart(now)
	st := scheduler.State{Now: now, Self: self, Policy: e.schedPolicy(), Segments: e.segBuf[:0]}
	var size int64 // largest segment wanted: the urgent window must fetch one whole
	for _, seq := range e.scheduled() {
		s := e.segs[seq]
		if s.rec == nil || s.complete {
			continue
		}
		dl, ok := e.deadline(s)
		if !ok || e.holdBack(dl, now) {
			continue
		}
		st.Segments = append(st.Segments, scheduler.Segment{Seq: seq, Size: s.rec.Size, PieceSize: int(s.rec.PieceSize), Deadline: dl, Have: s.have})
		size = max(size, s.rec.Size)
	}
	e.segBuf = st.Segments
	if st.Policy.Urgent <= 0 {
		st.Policy.Urgent = e.edgeT.urgent(size)
	}
	e.urgent = st.Policy.Urgent
	e.startFromSwarm(&st, now)
	same := !e.dirty && slices.EqualFunc(st.Segments, e.lastSegs, func(a, b scheduler.Segment) bool {
		return a.Seq == b.Seq && a.Deadline.Equal(b.Deadline)
	})
	if same && waiting {
		return
	}
	if gap := e.lastPlan.Add(e.cfg.PlanGap); e.pl.Steady() && now.Before(gap) {
		e.dirty = true // planned at gap, with whatever else comes until then
		e.planBy(gap)
		return
	}
	e.lastPlan = now
	e.dirty = false
	e.lastSegs = append(e.lastSegs[:0], st.Segments...)
	e.planWake = time.Time{}
	if !e.nextBusy.IsZero() && !now.Before(e.nextBusy) { // a back-off ended: the next to end
		e.nextBusyAfter(now)
	}
	if len(st.Segments) == 0 && e.pending.len() == 0 {
		return
	}
	mem := planMemory.Get().(*planMem)
	defer planMemory.Put(mem)
	st.Neighbours, st.InFlight = mem.nbs[:0], mem.pend[:0]
	if st.Policy.P2P {
		for _, nb := range e.nbList {
			if nb.hello {
				st.Neighbours = append(st.Neighbours, nb.schedView(now))
			}
		}
	}
	st.InFlight = e.pending.appendTo(st.InFlight) // in order: map order must not reach the tie-breaks
	mem.nbs, mem.pend = st.Neighbours, st.InFlight
	plan := mem.sc.Schedule(st)
	e.stats.Plans++
	e.planWake, e.blocked = plan.Wake, plan.Blocked
	for _, c := range plan.Cancels {
		e.pending.del(pendKey{c.Seq, c.Piece, c.From})
		if c.From == scheduler.Edge {
			continue
		}
		if nb := e.nbs[c.From]; nb != nil {
			if s := e.segs[c.Seq]; s != nil {
				e.send(nb, wire.Cancel{Segment: s.id, First: uint32(c.Piece), Count: 1})
			}
		}
	}
	for _, r := range plan.Edge {
		e.countEdge(st, r)
		e.fetchEdge(r, now)
	}
	for _, r := range plan.Requests {
		if nb, s := e.nbs[r.From], e.segs[r.Seq]; nb != nil && s != nil {
			e.request(nb, s, r.First, r.Count, now)
		}
	}
}

// request asks nb for pieces [first, first+count) of s.
func (e *Engine) request(nb *neighbour, s *segment, first, count int, now time.Time) {
	for c := 0; c < count; c += wire.MaxRequestPieces {
		n := min(wire.MaxRequestPieces, count-c)
		e.send(nb, wire.Request{Segment: s.id, First: uint32(first + c), Count: uint32(n)})
	}
	for i := first; i < first+count; i++ {
		e.pending.add(pendKey{s.id.Seq, i, nb.id}, now)
	}
}

// planMem is a plan's working memory, used only while it is made and
// carried out, and shared by every engine of the process (a virtual-time
// bench runs 100,000): per engine it would be most of an engine's memory.
type planMem struct {
	nbs  []scheduler.Neighbour
	pend []scheduler.Pending
	sc   scheduler.Scratch
}

var planMemory = sync.Pool{New: func() any { return new(planMem) }}

// planBy brings the next plan's Wake forward to t if it is later.
func (e *Engine) planBy(t time.Time) {
	if e.planWake.IsZero() || t.Before(e.planWake) {
		e.planWake = t
	}
}

// nextBusyAfter makes nextBusy the earliest back-off to end after now.
func (e *Engine) nextBusyAfter(now time.Time) {
	e.nextBusy, e.busySeen = time.Time{}, now
	for _, nb := range e.nbList {
		e.noteBusy(nb, now)
	}
}

// backoffsMatter reports whether a neighbour whose back-off (REJECT
// over_cap) ended since busySeen can change the plan: as for an
// announcement, only if it serves us and holds a piece of a segment we
// schedule that we neither hold nor asked for. Most back-offs end with
// nothing left to ask (the pieces came from elsewhere meanwhile), and
// skipping those plans took 1 in 5 plans off a virtual-time run (docs/benchmarks.md
// "Cost of the virtual bench").
func (e *Engine) backoffsMatter(now time.Time) bool {
	for _, nb := range e.nbList {
		if nb.busyUntil.After(now) || !nb.busyUntil.After(e.busySeen) {
			continue // still backing off, or ended before
		}
		if !nb.hello || nb.upKbps == 0 || nb.chokesUs {
			continue
		}
		for _, seq := range e.scheduled() {
			s := e.segs[seq]
			if s.rec == nil || s.complete {
				continue
			}
			theirs := nb.have.Get(seq)
			for i := range s.pieces() {
				if theirs.Has(i) && !s.have.Has(i) && !e.pending.asked(seq, i) {
					return true
				}
			}
		}
	}
	return false
}

// noteBusy keeps nextBusy the earliest end of a neighbour's back-off after now.
func (e *Engine) noteBusy(nb *neighbour, now time.Time) {
	if nb.busyUntil.After(now) && (e.nextBusy.IsZero() || nb.busyUntil.Before(e.nextBusy)) {
		e.nextBusy = nb.busyUntil
	}
}

// countEdge counts an edge run by its reason for the stats.
func (e *Engine) countEdge(st scheduler.State, r scheduler.Run) {
	if r.Why >= scheduler.ReasonP2POff && r.Why <= scheduler.ReasonFallback {
		e.stats.EdgePieces[r.Why-scheduler.ReasonP2POff] += r.Count
	}
	if !e.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for _, s := range st.Segments {
		if s.Seq != r.Seq {
			continue
		}
		held, free := 0, 0 // neighbours holding a piece of the run; of them, not choking us
		for _, nb := range st.Neighbours {
			for i := r.First; i < r.First+r.Count; i++ {
				if nb.Have.Get(r.Seq).Has(i) {
					held++
					if !nb.Choking {
						free++
					}
					break
				}
			}
		}
		e.log.Debug("engine: edge fetch", "why", r.Why.String(), "seq", r.Seq, "first", r.First, "count", r.Count,
			"lead_ms", s.Deadline.Sub(st.Now).Milliseconds(), "holders", held, "free", free, "neighbours", len(st.Neighbours))
	}
}

// fetchEdge asks for one run from the edge.
func (e *Engine) fetchEdge(r scheduler.Run, now time.Time) {
	s := e.segs[r.Seq]
	if s == nil || s.rec == nil {
		return
	}
	for i := r.First; i < r.First+r.Count; i++ {
		e.pending.add(pendKey{r.Seq, i, scheduler.Edge}, now)
	}
	off, _ := s.pieceRange(r.First)
	_, end := s.pieceRange(r.First + r.Count - 1)
	e.emit(FetchEdge{Seq: r.Seq, URI: s.uri, First: r.First, Count: r.Count, Off: off, Len: end - off,
		Whole: off == 0 && end == s.rec.Size, Why: r.Why})
}

// housekeep runs every second: pings, HELLO timeouts, the window behind the
// playhead, stale announcements.
func (e *Engine) housekeep(now time.Time) {
	for _, nb := range slices.Clone(e.nbList) {
		if !nb.hello {
			if now.After(nb.helloBy) {
				e.drop(nb, "no HELLO in time")
			}
			continue
		}
		if nb.inWriter && now.Sub(nb.writerSince) > writerTimeout {
			e.drop(nb, "piece not taken in time")
			continue
		}
		if nb.pingSent.IsZero() || now.Sub(nb.pingSent) >= pingEvery {
			if !nb.pingSent.IsZero() && nb.pingToken != 0 && now.Sub(nb.lastPong) > pongTimeout && now.Sub(nb.since) > pongTimeout {
				e.drop(nb, "unanswered pings")
				continue
			}
			nb.pingToken = e.cfg.Rand() | 1
			nb.pingSent = now
			e.send(nb, wire.Ping{Token: nb.pingToken})
		}
	}
	// Keep only a few segments behind the playhead (neighbours play about
	// where we do), unless a local player asked for one lately: memory holds a
	// few segments, not the playlist's whole window.
	if head, ok := e.pl.Playhead(); ok && e.vod.on {
		e.keepBudget(now) // a title keeps what was watched, within a byte budget
	} else if ok {
		for _, seq := range slices.Clone(e.order) {
			if seq+keepBehind >= head {
				break
			}
			if s := e.segs[seq]; s.demand.IsZero() || now.Sub(s.demand) > demandKeep {
				e.evict(seq)
			}
		}
	}
	e.chooseParents()
	// Forget announcements of segments far behind our window.
	if len(e.order) > 0 {
		lo := e.order[0]
		for seq := range e.born {
			if seq < lo {
				delete(e.born, seq)
			}
		}
		for seq := range e.early {
			if s := e.segs[seq]; seq < lo || (s != nil && s.recTries >= maxRecordTries && !s.recLoading) {
				e.dropEarly(seq)
			}
		}
		for _, nb := range e.nbList {
			nb.have = slices.DeleteFunc(nb.have, func(h scheduler.SegmentHave) bool { return h.Seq < lo })
			for seq := range nb.refused {
				if seq < lo {
					nb.forget(seq)
				}
			}
		}
	}
}

// logStart logs, once, what the neighbours hold of the start segment at the
// first plan that has its record (debug level): whether a joiner could start
// from the swarm (docs/peer.md "Startup from the swarm").
func (e *Engine) logStart(now time.Time) {
	if e.startLogged {
		return
	}
	if !e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.startLogged = true // and no look at the neighbours in every plan
		return
	}
	head, ok := e.pl.Playhead()
	s := e.segs[head]
	if !ok || s == nil || s.rec == nil {
		return
	}
	e.startLogged = true
	hello, whole, some := 0, 0, 0
	for _, nb := range e.nbList {
		if !nb.hello {
			continue
		}
		hello++
		switch n := nb.have.Get(head).Count(); {
		case n == s.pieces():
			whole++
		case n > 0:
			some++
		}
	}
	e.log.Debug("engine: start segment", "seq", head, "since_join_ms", now.Sub(e.joined).Milliseconds(),
		"neighbours", len(e.nbList), "hello", hello, "whole", whole, "some", some)
}
