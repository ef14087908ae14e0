package peer

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/transport"
)

// Bounds on the shell's queues.
const (
	eventQueue     = 1024
	maxEdgeFetches = 8 // concurrent HTTP Range fetches
	keyRefetch     = 10 * time.Second
	edgeFetchLimit = 10 * time.Second
)

// Why a piece came from the edge: the indices of Stats.EdgePieces.
const (
	EdgeP2POff   = int(scheduler.ReasonP2POff - scheduler.ReasonP2POff)
	EdgeUrgent   = int(scheduler.ReasonUrgent - scheduler.ReasonP2POff)
	EdgeSeed     = int(scheduler.ReasonSeed - scheduler.ReasonP2POff)
	EdgeFallback = int(scheduler.ReasonFallback - scheduler.ReasonP2POff)
)

// Peer is one viewer of a live rendition. Create it with New, then Run it;
// Handler serves the local HLS proxy, Stats the figures so far.
//
// Every decision is the core's (internal/engine); Peer is its shell: one
// loop goroutine owns the core and does what it asks with helpers (edge and
// record fetches, the playlist fetch, one reader and one writer per link,
// the tracker session) that report back over a bounded event queue.
type Peer struct {
	cfg Config
	log *slog.Logger
	cdn *cdn

	events   chan any
	loopDone chan struct{}
	fetchSem chan struct{}
	wg       sync.WaitGroup // edge, record and playlist fetches

	mu       sync.Mutex // guards the fields below (read by Stats, the proxy, the tracker session)
	snap     Stats
	playlist *livePlaylist
	plReady  chan struct{} // closed at the first playlist
	key      ed25519.PublicKey
	keyAt    time.Time

	// Loop-owned.
	core     *engine.Engine
	links    map[engine.LinkID]*link
	nextLink engine.LinkID
	sess     *session
	proxied  map[uint64]*proxySeg // segments the proxy may serve
	selfEvs  []engine.Event       // raised by the loop itself (a link's queue overflowed)
}

// Loop events besides engine events.
type (
	evCore    struct{ ev engine.Event }
	evWelcome struct {
		s      *session
		policy signalling.Policy
		stripe signalling.Stripe
	}
	evLinkUp struct {
		s *session
		l transport.Link
	}
	evSession struct {
		s  *session
		ev engine.Event // with s.sid filled in
	}
	evDemand struct {
		seq   uint64
		epoch string
		reply chan *proxySeg
	}
)

// proxySeg is a segment the local proxy may serve once done is closed.
type proxySeg struct {
	dur  time.Duration
	done chan struct{}
	data []byte // set before done closes
}

// New validates cfg and returns a Peer ready to Run.
func New(cfg Config) (*Peer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.Logger,
		cdn:      &cdn{bases: append([]string{cfg.Edge}, cfg.Edges...), stream: cfg.Stream, token: cfg.Token, client: cfg.Client, clk: cfg.Clock},
		events:   make(chan any, eventQueue),
		loopDone: make(chan struct{}),
		fetchSem: make(chan struct{}, maxEdgeFetches),
		plReady:  make(chan struct{}),
		key:      cfg.TrustedKey,
		links:    make(map[engine.LinkID]*link),
		proxied:  make(map[uint64]*proxySeg),
	}
	if err := registerMetrics(cfg.Registerer, p); err != nil {
		return nil, err
	}
	return p, nil
}

// coreConfig is the engine's configuration from ours.
func (c Config) coreConfig() engine.Config {
	return engine.Config{
		Stream: c.Stream, Rendition: c.Rendition, Swarm: c.Tracker != "",
		MaxUpload: c.MaxUpload, UploadCapacity: c.UploadCapacity, MaxNeighbours: c.MaxNeighbours,
		Player: c.Player, Scheduler: c.Scheduler, Push: c.Push, Tick: c.Tick, Logger: c.Logger, VOD: c.VOD,
	}
}

// Run follows the stream until ctx ends. It returns nil on cancellation.
func (p *Peer) Run(ctx context.Context) error {
	start := p.cfg.Clock.Now()
	p.core = engine.New(p.cfg.coreConfig(), start)
	if p.cfg.journal != nil {
		p.cfg.journal.start(start)
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	trCtx, stopTracker := context.WithCancel(context.Background())
	trDone := make(chan struct{})
	if p.cfg.Tracker != "" {
		go func() { defer close(trDone); p.runTracker(trCtx) }()
	} else {
		close(trDone)
	}
	p.loop(loopCtx)
	close(p.loopDone)
	p.wg.Wait() // fetches end with the loop's context
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
	wake := make(chan struct{}, 1)
	var timer transport.Timer
	var armed time.Time // when timer fires
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		for _, k := range p.links {
			k.close()
		}
	}()
	for {
		now := p.cfg.Clock.Now()
		for _, a := range p.ready(now) {
			p.act(ctx, a, now)
		}
		p.publishSnapshot()
		// One timer, re-armed only when the core wants an earlier wake (a
		// later one is checked when this one fires: Ready at any time is fine).
		if w := p.core.Wake(); timer == nil || !armed.After(now) || w.Before(armed) {
			if timer != nil {
				timer.Stop()
			}
			armed = w
			timer = p.cfg.Clock.AfterFunc(max(w.Sub(now), 0), func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case ev := <-p.events:
			p.handle(ev)
			// Drain what is queued before deciding: one plan per batch.
			for range 64 {
				select {
				case ev := <-p.events:
					p.handle(ev)
					continue
				default:
				}
				break
			}
		}
		for len(p.selfEvs) > 0 {
			ev := p.selfEvs[0]
			p.selfEvs = p.selfEvs[1:]
			p.step(p.cfg.Clock.Now(), ev)
		}
	}
}

// handle steps the core with one event.
func (p *Peer) handle(ev any) {
	now := p.cfg.Clock.Now()
	switch ev := ev.(type) {
	case evCore:
		if d, ok := ev.ev.(engine.LinkDown); ok {
			p.step(now, d)
			if k := p.links[d.Link]; k != nil {
				k.close()
				delete(p.links, d.Link)
			}
			return
		}
		p.step(now, ev.ev)
	case evWelcome:
		p.sess = ev.s
		p.step(now, engine.SessionUp{Session: ev.s.sid, PeerID: ev.s.id,
			Policy: EnginePolicy(ev.policy), Stripe: EngineStripe(ev.stripe)})
	case evSession:
		if _, ok := ev.ev.(engine.SessionDown); ok && p.sess == ev.s {
			p.sess = nil
		}
		p.step(now, ev.ev)
	case evLinkUp:
		p.nextLink++
		id := p.nextLink
		k := newLink(id, ev.l, p.cfg.tamper, p.postLink)
		p.links[id] = k
		go k.writeLoop()
		go k.readLoop()
		p.step(now, engine.LinkUp{Session: ev.s.sid, Link: id, Remote: ev.l.RemoteID()})
	case evDemand:
		p.step(now, engine.Demand{Seq: ev.seq, Epoch: ev.epoch})
		dur, ok := p.core.Segment(ev.seq, ev.epoch)
		if !ok {
			ev.reply <- nil
			return
		}
		ev.reply <- p.proxySeg(ev.seq, dur)
	}
}

// step and ready drive the core (and the journal of a test that records it).
func (p *Peer) step(now time.Time, ev engine.Event) {
	p.core.Step(now, ev)
	if p.cfg.journal != nil {
		p.cfg.journal.step(now, ev)
	}
}

func (p *Peer) ready(now time.Time) []engine.Action {
	acts := p.core.Ready(now)
	if p.cfg.journal != nil {
		p.cfg.journal.ready(now, acts)
	}
	return acts
}

// EnginePolicy and EngineStripe are the tracker's messages as the core takes
// them (every shell of the core translates the same way).
func EnginePolicy(pol signalling.Policy) engine.Policy {
	return engine.Policy{P2P: pol.P2PEnabled, MaxUpload: pol.MaxUpload}
}

func EngineStripe(s signalling.Stripe) scheduler.Stripe {
	return scheduler.Stripe{Index: s.Index, Count: s.Count}
}

// postLink hands a link's event to the loop (false once the loop is done).
func (p *Peer) postLink(ev engine.Event) bool {
	select {
	case p.events <- evCore{ev}:
		return true
	case <-p.loopDone:
		return false
	}
}

func (p *Peer) proxySeg(seq uint64, dur time.Duration) *proxySeg {
	ps := p.proxied[seq]
	if ps == nil {
		ps = &proxySeg{done: make(chan struct{})}
		p.proxied[seq] = ps
	}
	if dur > 0 {
		ps.dur = dur
	}
	return ps
}

// act does what the core asked.
func (p *Peer) act(ctx context.Context, a engine.Action, now time.Time) {
	switch a := a.(type) {
	case engine.Send:
		k := p.links[a.Link]
		if k == nil {
			return
		}
		if !k.send(a.Msg) {
			k.close()
			delete(p.links, a.Link)
			p.selfEvs = append(p.selfEvs, engine.LinkDown{Link: a.Link})
		}
	case engine.CloseLink:
		if k := p.links[a.Link]; k != nil {
			k.close()
			delete(p.links, a.Link)
		}
	case engine.FetchEdge:
		p.fetchEdge(ctx, a, now)
	case engine.FetchRecord:
		p.fetchRecordAsync(ctx, a)
	case engine.FetchPlaylist:
		p.fetchPlaylistAsync(ctx)
	case engine.Report:
		if s := p.sess; s != nil && s.sid == a.Session {
			s.queue(&signalling.Report{Peer: a.Peer, Segment: a.Segment.String(), Piece: a.Piece, Reason: a.Reason})
		}
	case engine.Deliver:
		ps := p.proxySeg(a.ID.Seq, 0)
		if ps.data == nil {
			ps.data = a.Data
			close(ps.done)
		}
		if p.cfg.OnSegment != nil {
			p.cfg.OnSegment(a.ID, a.Data)
		}
	case engine.Forget:
		delete(p.proxied, a.ID.Seq)
	}
}
