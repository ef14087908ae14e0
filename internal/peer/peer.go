package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/player"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Bounds on the engine's state.
const (
	eventQueue     = 1024
	maxEdgeFetches = 8  // concurrent HTTP Range fetches
	maxRecordTries = 5  // per segment before giving up on it
	maxFutureSegs  = 16 // segments a neighbour may announce beyond our playlist
	keyRefetch     = 10 * time.Second
	keepBehind     = 3                // segments kept behind the playhead
	demandKeep     = 30 * time.Second // a segment a local player asked for stays this long
	// seedMargin: a new seeding assignment applies to segments due later
	// than the urgent window plus this (closer ones are the urgent rule's, and
	// a stripe seeded later could not spread before it).
	seedMargin = 500 * time.Millisecond
	minPoll    = 250 * time.Millisecond // playlist fetches at most this often
)

// Peer is one viewer of a live rendition. Create it with New, then Run it;
// Handler serves the local HLS proxy, Stats the figures so far.
type Peer struct {
	cfg Config
	log *slog.Logger
	cdn *cdn
	up  bucket

	events   chan any
	loopDone chan struct{}
	fetchSem chan struct{}
	poke     chan struct{}  // cap 1: fetch the playlist now
	seeding  atomic.Bool    // we hold a stripe: poll faster
	wg       sync.WaitGroup // edge fetches, record fetches

	// Counters, written by any goroutine.
	bytesP2P, bytesUp, bytesDup, bytesWasted, badPieces atomic.Int64

	mu       sync.Mutex // guards the fields below (read by Stats, the proxy, the tracker session)
	snap     Stats
	playlist *livePlaylist
	plReady  chan struct{} // closed at the first playlist
	key      ed25519.PublicKey
	keyAt    time.Time

	// Loop-owned state.
	segs      map[uint64]*segment
	order     []uint64 // seqs of segs, ascending
	target    time.Duration
	pl        *player.Player
	nbs       map[string]*neighbour
	distrust  map[string]bool // ids that sent bad pieces or broke the protocol
	sess      *session
	policy    tracker.Policy
	hasPolicy bool
	stripe    scheduler.Stripe // the tracker's seeding assignment (Count 0: none)
	pending   map[pendKey]time.Time
	newHave   map[uint64][]int
	started   time.Time
	edgeWhy   [4]int // pieces fetched from the edge, by reason (EdgeP2POff …)
	edgeT     edgeTimer
	urgent    time.Duration // the urgent window of the last plan
	lastPoke  time.Time
}

type pendKey struct {
	seq   uint64
	piece int
	from  string // scheduler.Edge or a neighbour id
}

// Loop events.
type (
	evPlaylist struct {
		pl  *livePlaylist
		err error
	}
	evRecord struct {
		seq uint64
		rec *manifest.Record
		err error
	}
	evEdge struct {
		seq          uint64
		first, count int
		data         []byte
		err          error
		// asked: the plan's decision; headers: the response headers; done:
		// the whole body (for the edge timer).
		asked, headers, done time.Time
	}
	evWelcome struct {
		s      *session
		policy tracker.Policy
		stripe tracker.Stripe
	}
	evStripe struct {
		s      *session
		stripe tracker.Stripe
	}
	evPolicy struct {
		s      *session
		policy tracker.Policy
	}
	evRemove struct {
		s   *session
		ids []string
	}
	evSessionDown struct{ s *session }
	evLinkUp      struct {
		s *session
		l transport.Link
	}
	evFrame struct {
		nb  *neighbour
		msg wire.Msg
	}
	evLinkDown struct {
		nb  *neighbour
		err error
	}
	evDemand struct {
		seq   uint64
		epoch string
		reply chan *segment
	}
)

// New validates cfg and returns a Peer ready to Run.
func New(cfg Config) (*Peer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.Logger,
		cdn:      &cdn{base: cfg.Edge, stream: cfg.Stream, token: cfg.Token, client: cfg.Client, clk: cfg.Clock},
		events:   make(chan any, eventQueue),
		loopDone: make(chan struct{}),
		fetchSem: make(chan struct{}, maxEdgeFetches),
		poke:     make(chan struct{}, 1),
		plReady:  make(chan struct{}),
		key:      cfg.TrustedKey,
		segs:     make(map[uint64]*segment),
		nbs:      make(map[string]*neighbour),
		distrust: make(map[string]bool),
		pending:  make(map[pendKey]time.Time),
		newHave:  make(map[uint64][]int),
		urgent:   maxUrgent,
	}
	p.up.clk = cfg.Clock
	if cfg.MaxUpload > 0 {
		p.up.setRate(cfg.MaxUpload)
	}
	if err := registerMetrics(cfg.Registerer, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Run follows the stream until ctx ends. It returns nil on cancellation.
func (p *Peer) Run(ctx context.Context) error {
	p.started = p.cfg.Clock.Now()
	p.pl = player.New(p.cfg.Player, p.started)
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	trCtx, stopTracker := context.WithCancel(context.Background())
	trDone := make(chan struct{})
	if p.cfg.Tracker != "" {
		go func() { defer close(trDone); p.runTracker(trCtx) }()
	} else {
		close(trDone)
	}
	go p.pollPlaylist(loopCtx)
	p.loop(loopCtx)
	close(p.loopDone)
	p.wg.Wait() // edge fetches end with the loop's context
	stopTracker()
	<-trDone
	return nil
}

// post hands an event to the loop; false once the loop or ctx is done.
func (p *Peer) post(ctx context.Context, ev any) bool {
	select {
	case p.events <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-p.loopDone:
		return false
	}
}

func (p *Peer) loop(ctx context.Context) {
	tick := transport.NewTicker(p.cfg.Clock, p.cfg.Tick)
	defer tick.Stop()
	pings := transport.NewTicker(p.cfg.Clock, time.Second)
	defer pings.Stop()
	defer func() {
		for _, nb := range p.nbs {
			nb.k.close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-p.events:
			p.handle(ctx, ev)
			// Drain what is queued before deciding: one plan per batch.
			for range 64 {
				select {
				case ev := <-p.events:
					p.handle(ctx, ev)
					continue
				default:
				}
				break
			}
		case <-tick.C:
		case <-pings.C:
			p.housekeeping(p.cfg.Clock.Now())
			p.fetchRecords(ctx, p.cfg.Clock.Now())
		}
		now := p.cfg.Clock.Now()
		p.flushHaves()
		p.pl.Advance(now)
		p.schedule(ctx, now)
		p.publishSnapshot()
	}
}

func (p *Peer) handle(ctx context.Context, ev any) {
	now := p.cfg.Clock.Now()
	switch ev := ev.(type) {
	case evPlaylist:
		p.onPlaylist(ctx, ev, now)
	case evRecord:
		p.onRecord(ctx, ev, now)
	case evEdge:
		p.onEdge(ev, now)
	case evWelcome:
		p.sess = ev.s
		p.setPolicy(ev.policy)
		p.setStripe(ctx, ev.stripe, now)
	case evStripe:
		if ev.s == p.sess {
			p.setStripe(ctx, ev.stripe, now)
		}
	case evPolicy:
		if ev.s == p.sess {
			p.setPolicy(ev.policy)
		}
	case evRemove:
		for _, id := range ev.ids {
			if nb := p.nbs[id]; nb != nil && nb.s == ev.s {
				p.dropNeighbour(nb, "removed by tracker")
			}
		}
	case evSessionDown:
		if p.sess == ev.s {
			p.sess = nil // links stay up: P2P goes on without the tracker
		}
	case evLinkUp:
		p.onLinkUp(ctx, ev, now)
	case evFrame:
		if p.nbs[ev.nb.id] == ev.nb {
			p.onFrame(ev.nb, ev.msg, now)
		}
	case evLinkDown:
		if p.nbs[ev.nb.id] == ev.nb {
			if ev.err != nil {
				p.log.Debug("peer: neighbour protocol violation", "peer", ev.nb.id, "err", ev.err)
				p.distrust[ev.nb.id] = true
			}
			p.dropNeighbour(ev.nb, "link down")
		}
	case evDemand:
		s := p.segs[ev.seq]
		if s != nil && s.id.Epoch == ev.epoch {
			if s.demand.IsZero() {
				s.demand = now
			}
			ev.reply <- s
		} else {
			ev.reply <- nil
		}
	}
}

func (p *Peer) setPolicy(pol tracker.Policy) {
	p.policy, p.hasPolicy = pol, true
	rate := p.cfg.MaxUpload
	if pol.MaxUpload > 0 && (rate <= 0 || pol.MaxUpload < rate) && p.cfg.MaxUpload >= 0 {
		rate = pol.MaxUpload
	}
	if rate > 0 {
		p.up.setRate(rate)
	} else {
		p.up.setRate(0)
	}
	if !pol.P2PEnabled {
		for _, nb := range p.nbs {
			p.dropNeighbour(nb, "P2P disabled by policy")
		}
	}
}

// p2p reports whether neighbours may be used now.
func (p *Peer) p2p() bool {
	return p.cfg.Tracker != "" && (!p.hasPolicy || p.policy.P2PEnabled)
}

// uploads reports whether we serve neighbours.
func (p *Peer) uploads() bool { return p.cfg.MaxUpload >= 0 && p.cfg.UploadCapacity > 0 }

// pollPlaylist fetches the media playlist every half target duration, a
// seeder every eighth (at least minPoll apart): the seeder's stripe must be in
// the swarm as early as possible, since the whole swarm has only the few
// seconds between publication and the deadline to spread it, and every
// fetch is one small, edge-cached playlist. Others refetch early when a
// neighbour announces a segment they do not list (pokePoller).
func (p *Peer) pollPlaylist(ctx context.Context) {
	name := p.cfg.Rendition + ".m3u8"
	wait := time.Second
	for {
		b, err := p.cdn.get(ctx, name, maxPlaylistBytes, false)
		var pl *livePlaylist
		if err == nil {
			pl, err = parsePlaylist(b, p.cfg.Rendition)
		}
		if ctx.Err() != nil || !p.post(ctx, evPlaylist{pl: pl, err: err}) {
			return
		}
		if pl != nil {
			wait = pollInterval(pl.target)
			if p.seeding.Load() {
				wait = max(minPoll, wait/4)
			}
		}
		c, t := after(p.cfg.Clock, wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c:
		case <-p.poke:
			t.Stop()
		}
	}
}

// pokePoller makes the poller fetch the playlist now: a neighbour announced a
// segment we do not list yet (its playlist is fresher than ours). At most one
// poke per minPoll, so announcements cannot make us hammer the edge.
func (p *Peer) pokePoller(now time.Time) {
	if now.Sub(p.lastPoke) < minPoll {
		return
	}
	p.lastPoke = now
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *Peer) onPlaylist(ctx context.Context, ev evPlaylist, now time.Time) {
	if ev.err != nil {
		p.log.Info("peer: playlist", "err", ev.err)
		return
	}
	pl := ev.pl
	p.mu.Lock()
	first := p.playlist == nil
	p.playlist = pl
	p.mu.Unlock()
	if first {
		close(p.plReady)
	}
	p.target = pl.target
	listed := make(map[uint64]bool, len(pl.entries))
	for _, e := range pl.entries {
		listed[e.seq] = true
		if s := p.segs[e.seq]; s != nil {
			if s.id.Epoch != e.epoch || s.uri != e.uri {
				p.log.Warn("peer: segment identity changed; dropping it", "seq", e.seq)
				p.evict(e.seq)
			} else {
				continue
			}
		}
		if n := len(p.order); n > 0 && e.seq < p.order[n-1] {
			continue // older than what we know: it slid back into view, ignore
		}
		p.segs[e.seq] = newSegment(e, now)
		p.order = append(p.order, e.seq)
		if err := p.pl.Publish(player.Segment{Seq: e.seq, Duration: e.dur, Published: e.published(now)}); err != nil {
			p.log.Warn("peer: player model", "err", err)
		}
	}
	// Segments that left the playlist leave the window: bounded memory.
	for _, seq := range slices.Clone(p.order) {
		if !listed[seq] && seq < pl.entries[0].seq {
			p.evict(seq)
		}
	}
	p.pl.Advance(now)
	p.fetchRecords(ctx, now)
}

// evict forgets segment seq and everything about it; neighbours are told
// when it leaves before the playlist's window does.
func (p *Peer) evict(seq uint64) {
	if s := p.segs[seq]; s != nil && s.verified > 0 {
		for _, nb := range p.nbs {
			if nb.hello {
				p.sendTo(nb, wire.BitfieldMsg{Segment: s.id})
			}
		}
	}
	delete(p.segs, seq)
	if i, ok := slices.BinarySearch(p.order, seq); ok {
		p.order = slices.Delete(p.order, i, i+1)
	}
	for k := range p.pending {
		if k.seq == seq {
			delete(p.pending, k)
		}
	}
	delete(p.newHave, seq)
	for _, nb := range p.nbs {
		delete(nb.have, seq)
	}
}

// wanted reports whether we fetch segment s now, and its deadline.
func (p *Peer) deadline(s *segment, now time.Time) (time.Time, bool) {
	dl, ok := p.pl.Deadline(s.id.Seq)
	if !s.demand.IsZero() && (!ok || s.demand.Before(dl)) {
		return s.demand, true
	}
	return dl, ok
}

// fetchRecords starts record fetches for wanted segments that lack one.
func (p *Peer) fetchRecords(ctx context.Context, now time.Time) {
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	for _, seq := range p.order {
		s := p.segs[seq]
		if s.rec != nil || s.recLoading || s.recTries >= maxRecordTries || now.Before(s.recRetry) {
			continue
		}
		if _, ok := p.deadline(s, now); !ok {
			continue
		}
		s.recLoading = true
		s.recTries++
		id, uri := s.id, s.uri
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			rec, err := p.fetchRecord(ctx, id, uri, key)
			p.post(ctx, evRecord{seq: id.Seq, rec: rec, err: err})
		}()
	}
}

// fetchRecord fetches and verifies the record of segment id, fetching the key
// first if needed (and again, at most every keyRefetch, if the record does not
// verify: the origin may have rotated it).
func (p *Peer) fetchRecord(ctx context.Context, id wire.SegmentID, uri string, key ed25519.PublicKey) (*manifest.Record, error) {
	if key == nil {
		var err error
		if key, err = p.fetchKey(ctx); err != nil {
			return nil, err
		}
	}
	b, err := p.cdn.get(ctx, p.cfg.Rendition+"/"+id.String()+".rec", maxRecordBytes, false)
	if err != nil {
		return nil, err
	}
	rec, err := manifest.Parse(b, key)
	if errors.Is(err, manifest.ErrSignature) && p.cfg.TrustedKey == nil {
		p.mu.Lock()
		stale := p.cfg.Clock.Now().Sub(p.keyAt) > keyRefetch
		p.mu.Unlock()
		if stale {
			if key, err = p.fetchKey(ctx); err != nil {
				return nil, err
			}
			rec, err = manifest.Parse(b, key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("peer: record %s: %w", id, err)
	}
	if rec.Stream != p.cfg.Stream || rec.Rendition != p.cfg.Rendition || rec.Epoch != id.Epoch || rec.Seq != id.Seq || rec.URI != uri {
		return nil, fmt.Errorf("peer: record %s names %s/%s %s-%d %s", id, rec.Stream, rec.Rendition, rec.Epoch, rec.Seq, rec.URI)
	}
	if rec.PieceSize != manifest.PieceSize {
		return nil, fmt.Errorf("peer: record %s: piece size %d", id, rec.PieceSize)
	}
	return rec, nil
}

func (p *Peer) fetchKey(ctx context.Context) (ed25519.PublicKey, error) {
	if p.cfg.TrustedKey != nil {
		return p.cfg.TrustedKey, nil
	}
	b, err := p.cdn.get(ctx, "key", maxKeyBytes, false)
	if err != nil {
		return nil, err
	}
	key, err := manifest.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("peer: stream key: %w", err)
	}
	p.mu.Lock()
	p.key, p.keyAt = key, p.cfg.Clock.Now()
	p.mu.Unlock()
	return key, nil
}

func (p *Peer) onRecord(ctx context.Context, ev evRecord, now time.Time) {
	s := p.segs[ev.seq]
	if s == nil {
		return
	}
	s.recLoading = false
	if ev.err != nil {
		p.log.Info("peer: record", "seq", ev.seq, "err", ev.err)
		s.recRetry = now.Add(time.Duration(s.recTries) * 250 * time.Millisecond)
		return
	}
	if s.rec != nil {
		return
	}
	s.setRecord(ev.rec)
	defer p.seed(ctx, s, now)
	// Tell neighbours nothing yet (we hold nothing), but check what they announced.
	for _, nb := range p.nbs {
		if bf, ok := nb.have[ev.seq]; ok && len(bf) > (s.pieces()+63)/64 {
			// They announced pieces beyond the record: trim (a liar or a stale epoch).
			nb.have[ev.seq] = bf[:(s.pieces()+63)/64]
			clearRange(nb.have[ev.seq], s.pieces(), len(nb.have[ev.seq])*64-s.pieces())
		}
	}
}

// onEdge stores pieces fetched from the edge.
func (p *Peer) onEdge(ev evEdge, now time.Time) {
	for i := ev.first; i < ev.first+ev.count; i++ {
		delete(p.pending, pendKey{ev.seq, i, scheduler.Edge})
	}
	s := p.segs[ev.seq]
	if s == nil || s.rec == nil {
		p.bytesWasted.Add(int64(len(ev.data))) // the segment left the window meanwhile
		return
	}
	if ev.err != nil {
		p.log.Info("peer: edge fetch", "seq", ev.seq, "first", ev.first, "count", ev.count, "err", ev.err)
		return
	}
	p.edgeT.observe(ev.headers.Sub(ev.asked), ev.done.Sub(ev.headers), int64(len(ev.data)))
	off, _ := s.pieceRange(ev.first)
	for i := ev.first; i < ev.first+ev.count; i++ {
		a, b := s.pieceRange(i)
		stored, err := s.store(i, ev.data[a-off:b-off])
		if err != nil {
			// The edge is trusted transport: a bad piece is an operator alarm.
			p.log.Error("peer: piece from the edge failed verification", "segment", s.id, "piece", i, "err", err)
			p.badPieces.Add(1)
			continue
		}
		if stored {
			p.verified(s, i, now)
		} else {
			p.bytesDup.Add(b - a)
		}
	}
}

// verified runs after piece i of s was stored: announce it, tell the player.
func (p *Peer) verified(s *segment, i int, now time.Time) {
	p.newHave[s.id.Seq] = append(p.newHave[s.id.Seq], i)
	if s.complete {
		p.pl.Available(s.id.Seq, now)
		if p.cfg.OnSegment != nil {
			p.cfg.OnSegment(s.id, s.data)
		}
	}
}

// flushHaves announces the pieces verified since the last flush, one HAVE per
// contiguous run.
func (p *Peer) flushHaves() {
	if len(p.newHave) == 0 {
		return
	}
	for seq, pieces := range p.newHave {
		s := p.segs[seq]
		if s == nil {
			continue
		}
		slices.Sort(pieces)
		for j := 0; j < len(pieces); {
			k := j + 1
			for k < len(pieces) && pieces[k] == pieces[k-1]+1 {
				k++
			}
			m := wire.Have{Segment: s.id, First: uint32(pieces[j]), Count: uint32(k - j)}
			for _, nb := range p.nbs {
				if nb.hello {
					p.sendTo(nb, m)
				}
			}
			j = k
		}
	}
	clear(p.newHave)
}

// schedule asks the scheduler what to do and does it.
func (p *Peer) schedule(ctx context.Context, now time.Time) {
	st := scheduler.State{Now: now, Self: p.selfID(), Policy: p.schedPolicy()}
	var size int64 // largest segment wanted: the urgent window must fetch one whole
	for _, seq := range p.order {
		s := p.segs[seq]
		if s.rec == nil || s.complete {
			continue
		}
		dl, ok := p.deadline(s, now)
		if !ok {
			continue
		}
		st.Segments = append(st.Segments, scheduler.Segment{Seq: seq, Size: s.rec.Size, PieceSize: int(s.rec.PieceSize), Deadline: dl, Have: s.have})
		size = max(size, s.rec.Size)
	}
	if st.Policy.Urgent <= 0 {
		st.Policy.Urgent = p.edgeT.urgent(size)
	}
	p.urgent = st.Policy.Urgent
	if len(st.Segments) == 0 && len(p.pending) == 0 {
		return
	}
	if st.Policy.P2P {
		for _, nb := range p.nbs {
			if !nb.hello {
				continue
			}
			st.Neighbours = append(st.Neighbours, scheduler.Neighbour{
				ID: nb.id, Have: nb.have, Throughput: nb.tput, RTT: nb.rtt,
				Choking:  nb.chokesUs || now.Before(nb.busyUntil),
				NoUpload: nb.upKbps == 0,
			})
		}
	}
	for k, since := range p.pending {
		st.InFlight = append(st.InFlight, scheduler.Pending{Seq: k.seq, Piece: k.piece, From: k.from, Since: since})
	}
	plan := scheduler.Schedule(st)
	for _, c := range plan.Cancels {
		delete(p.pending, pendKey{c.Seq, c.Piece, c.From})
		if c.From == scheduler.Edge {
			continue
		}
		if nb := p.nbs[c.From]; nb != nil {
			if s := p.segs[c.Seq]; s != nil {
				p.sendTo(nb, wire.Cancel{Segment: s.id, First: uint32(c.Piece), Count: 1})
			}
		}
	}
	for _, r := range plan.Edge {
		p.countEdge(st, r)
		p.fetchEdge(ctx, r, now)
	}
	for _, r := range plan.Requests {
		nb, s := p.nbs[r.From], p.segs[r.Seq]
		if nb == nil || s == nil {
			continue
		}
		for c := 0; c < r.Count; c += wire.MaxRequestPieces {
			n := min(wire.MaxRequestPieces, r.Count-c)
			p.sendTo(nb, wire.Request{Segment: s.id, First: uint32(r.First + c), Count: uint32(n)})
		}
		for i := r.First; i < r.First+r.Count; i++ {
			p.pending[pendKey{r.Seq, i, nb.id}] = now
		}
	}
	// plan.Wake needs no timer: the loop ticks every Config.Tick anyway.
}

// countEdge classifies an edge fetch for the stats: urgent, seeding (our
// stripe) or fallback (nobody near us had it in time).
func (p *Peer) countEdge(st scheduler.State, r scheduler.Run) {
	for _, s := range st.Segments {
		if s.Seq != r.Seq {
			continue
		}
		why := EdgeFallback
		switch {
		case !st.Policy.P2P:
			why = EdgeP2POff
		case !st.Now.Before(s.Deadline.Add(-st.Policy.Urgent)):
			why = EdgeUrgent
		}
		p.edgeWhy[why] += r.Count
		if p.log.Enabled(context.Background(), slog.LevelDebug) {
			held := 0
			for _, nb := range st.Neighbours {
				for i := r.First; i < r.First+r.Count; i++ {
					if nb.Have[r.Seq].Has(i) {
						held++
						break
					}
				}
			}
			p.log.Debug("peer: edge fetch", "why", edgeReasons[why], "seq", r.Seq, "first", r.First, "count", r.Count,
				"lead_ms", s.Deadline.Sub(st.Now).Milliseconds(), "holders", held, "neighbours", len(st.Neighbours))
		}
		return
	}
}

// Why a piece came from the edge: the indices of Stats.EdgePieces.
const (
	EdgeP2POff   = iota // P2P off: everything comes from the edge
	EdgeUrgent          // due within the urgent window
	EdgeSeed            // our stripe, seeded for the swarm
	EdgeFallback        // no neighbour held it in time
)

// edgeReasons names the EdgePieces indices in logs.
var edgeReasons = [...]string{EdgeP2POff: "p2p_off", EdgeUrgent: "urgent", EdgeSeed: "seed", EdgeFallback: "fallback"}

// schedPolicy is the scheduler's policy now. With P2P on but no neighbour
// yet (just joined, tracker away) pieces come from the edge at the
// scheduler's staggered fallback moment, still well before the urgent window,
// which leaves the time for neighbours to connect and serve them. Seeding is
// not left to the scheduler's stripe rule: see seed.
func (p *Peer) schedPolicy() scheduler.Policy {
	pol := p.cfg.Scheduler
	pol.P2P, pol.NoUpload, pol.Stripe = p.p2p(), !p.uploads(), scheduler.Stripe{}
	return pol
}

// setStripe installs the tracker's seeding assignment. A new assignment (a
// seeder left and we inherit its stripe, or the swarm grew and the segments are
// cut anew) applies at once to the segments already in the window that are not
// due soon: the pieces of our stripe nobody near us holds come from the edge
// now rather than at each peer's fallback moment.
func (p *Peer) setStripe(ctx context.Context, st tracker.Stripe, now time.Time) {
	next := scheduler.Stripe{Index: st.Index, Count: st.Count}
	if next.Count <= 0 || next.Index < 0 || next.Index >= next.Count {
		next = scheduler.Stripe{}
	}
	if next == p.stripe {
		return
	}
	p.log.Debug("peer: seeding assignment", "index", next.Index, "count", next.Count)
	p.stripe = next
	p.seeding.Store(next.Count > 0)
	for _, seq := range p.order {
		if s := p.segs[seq]; s.rec != nil && !s.complete {
			if dl, ok := p.deadline(s, now); ok && dl.Sub(now) > p.urgent+seedMargin {
				p.seed(ctx, s, now)
			}
		}
	}
}

// seed fetches from the edge, at once, the pieces of s in our stripe (the
// tracker's assignment, docs/tracker.md "Seeding") that we neither hold nor
// have asked the edge for and that no neighbour announced. It runs once per
// segment when its record arrives (and again when the assignment changes),
// not on every plan, and skips what neighbours announced: after a
// reassignment two peers may briefly own one stripe, and the one that learns
// of the segment later (peers poll up to half a target duration apart) pulls
// from its neighbours what the other already seeded.
// Without an assignment (not a seeder, P2P off, no upload) nothing is seeded:
// the scheduler's staggered edge fallback covers pieces nobody near us holds.
func (p *Peer) seed(ctx context.Context, s *segment, now time.Time) {
	st := p.stripe
	if !p.p2p() || !p.uploads() || st.Count == 0 {
		return
	}
	dl, ok := p.deadline(s, now)
	if !ok {
		return
	}
	n, seq := s.pieces(), s.id.Seq
	var pieces []int
	for i := range n {
		if scheduler.StripeOf(seq, i, n, st.Count) != st.Index || s.have.Has(i) {
			continue
		}
		if _, ok := p.pending[pendKey{seq, i, scheduler.Edge}]; ok {
			continue
		}
		held := false
		for _, nb := range p.nbs {
			if nb.have[seq].Has(i) {
				held = true
				break
			}
		}
		if !held {
			pieces = append(pieces, i)
		}
	}
	for j := 0; j < len(pieces); {
		k := j + 1
		for k < len(pieces) && pieces[k] == pieces[k-1]+1 {
			k++
		}
		p.edgeWhy[EdgeSeed] += k - j
		if p.log.Enabled(ctx, slog.LevelDebug) {
			p.log.Debug("peer: edge fetch", "why", edgeReasons[EdgeSeed], "seq", seq, "first", pieces[j], "count", k-j,
				"lead_ms", dl.Sub(now).Milliseconds(), "since_listed_ms", now.Sub(s.seen).Milliseconds())
		}
		p.fetchEdge(ctx, scheduler.Run{From: scheduler.Edge, Seq: seq, First: pieces[j], Count: k - j}, now)
		j = k
	}
}

func (p *Peer) selfID() string {
	if p.sess != nil {
		return p.sess.id
	}
	return "self"
}

// fetchEdge starts an HTTP Range fetch of one run.
func (p *Peer) fetchEdge(ctx context.Context, r scheduler.Run, now time.Time) {
	s := p.segs[r.Seq]
	if s == nil || s.rec == nil {
		return
	}
	for i := r.First; i < r.First+r.Count; i++ {
		p.pending[pendKey{r.Seq, i, scheduler.Edge}] = now
	}
	off, _ := s.pieceRange(r.First)
	_, end := s.pieceRange(r.First + r.Count - 1)
	uri := s.uri
	whole := off == 0 && end == s.rec.Size
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case p.fetchSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-p.fetchSem }()
		fctx, cancel := withTimeout(ctx, p.cfg.Clock, 10*time.Second)
		defer cancel()
		var hdr time.Time
		var b []byte
		var err error
		if whole {
			b, err = p.cdn.getMedia(fctx, uri, -1, end, &hdr)
			if err == nil && int64(len(b)) != end {
				err = fmt.Errorf("%w: %s: %d bytes, record says %d", ErrHTTP, uri, len(b), end)
			}
		} else {
			b, err = p.cdn.getMedia(fctx, uri, off, end-off, &hdr)
		}
		p.post(ctx, evEdge{seq: r.Seq, first: r.First, count: r.Count, data: b, err: err,
			asked: now, headers: hdr, done: p.cfg.Clock.Now()})
	}()
}

// housekeeping runs every second: pings, HELLO timeouts, record retries.
func (p *Peer) housekeeping(now time.Time) {
	for _, nb := range p.nbs {
		if !nb.hello {
			if now.After(nb.helloBy) {
				p.dropNeighbour(nb, "no HELLO in time")
			}
			continue
		}
		if nb.pingSent.IsZero() || now.Sub(nb.pingSent) >= 2*time.Second {
			if !nb.pingSent.IsZero() && nb.pingToken != 0 && now.Sub(nb.lastPong) > 10*time.Second && now.Sub(nb.since) > 10*time.Second {
				p.dropNeighbour(nb, "unanswered pings")
				continue
			}
			nb.pingToken = rand.Uint32() | 1
			nb.pingSent = now
			p.sendTo(nb, wire.Ping{Token: nb.pingToken})
		}
	}
	// Keep only a few segments behind the playhead (neighbours play about
	// where we do), unless a local player asked for one lately: memory holds a
	// few segments, not the playlist's whole window.
	if head, ok := p.pl.Playhead(); ok {
		for _, seq := range slices.Clone(p.order) {
			s := p.segs[seq]
			if seq+keepBehind >= head {
				break
			}
			if s.demand.IsZero() || now.Sub(s.demand) > demandKeep {
				p.evict(seq)
			}
		}
	}
	// Forget announcements of segments far behind our window.
	if len(p.order) > 0 {
		lo := p.order[0]
		for _, nb := range p.nbs {
			for seq := range nb.have {
				if seq < lo {
					delete(nb.have, seq)
				}
			}
		}
	}
}
