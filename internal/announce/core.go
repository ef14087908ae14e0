package announce

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

// Rendition marks WebTorrent swarms in a swarm.Store shared with native swarms: the
// key is (hex info hash, Rendition). Native rendition names never contain '#', so the
// two kinds cannot collide.
const Rendition = "#webtorrent"

// Key is the swarm.Store key of the swarm of a 20-byte info hash.
func Key(infoHash string) swarm.SwarmKey {
	return swarm.SwarmKey{Stream: webtorrent.Hex(infoHash), Rendition: Rendition}
}

// ConnID names one WebSocket connection; the frontend assigns them, never 0.
type ConnID uint64

// Out is one message for connection To.
type Out struct {
	To  ConnID
	Msg webtorrent.Message
}

// CoreConfig configures a Core. Every zero field takes the default written beside it.
type CoreConfig struct {
	Store swarm.Store // nil → swarm.NewMemStore(64)
	// Policy returns the operator policy of a stream (the hex info hash names it);
	// nil → P2P on, 10 neighbours.
	Policy    func(stream string) signalling.Policy
	Rand      *rand.Rand // sampling; nil → PCG(0, 0). Used under the core's lock.
	MaxSwarms int        // WebTorrent swarms with members; default 10000
	// MaxSwarmsPerConn bounds the info hashes one connection announces (one page
	// usually has one or two); default 16.
	MaxSwarmsPerConn int
	// ScrapeAll bounds a scrape without info_hash (the library returns every swarm);
	// default 1000.
	ScrapeAll int
}

// offersKept is how many offers a member remembers having been sent, so that only an
// answer to one of them is forwarded (the client gives up on an offer after 50 s; a
// peer gets about five per announce interval).
const offersKept = 16

// sample is how many members an offer's recipients are chosen from, per recipient.
const sample = 8

// Core holds every WebTorrent swarm of this process under one lock. It does no I/O
// besides its Store and never reads the clock.
type Core struct {
	cfg   CoreConfig
	store swarm.Store
	ctx   context.Context

	mu      sync.Mutex
	rnd     *rand.Rand
	swarms  map[string]*wswarm // by binary info hash
	conns   map[ConnID]*connState
	dropped uint64 // answers not forwarded
}

type wswarm struct {
	members              []*member
	index                map[string]int // peer id → position in members
	complete, incomplete int
}

type member struct {
	peerID   string
	conn     ConnID
	addr     string
	complete bool
	offers   []sentOffer // ring of the last offersKept offers forwarded to it
	next     int
}

type sentOffer struct{ offerID, from string }

type connState struct {
	addr  string
	joins []join // (info hash, peer id) this connection is a member as
}

type join struct{ infoHash, peerID string }

// NewCore fills defaults and returns a Core.
func NewCore(cfg CoreConfig) *Core {
	if cfg.Store == nil {
		cfg.Store = swarm.NewMemStore(64)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(0, 0))
	}
	if cfg.MaxSwarms <= 0 {
		cfg.MaxSwarms = 10000
	}
	if cfg.MaxSwarmsPerConn <= 0 {
		cfg.MaxSwarmsPerConn = 16
	}
	if cfg.ScrapeAll <= 0 {
		cfg.ScrapeAll = 1000
	}
	return &Core{
		cfg: cfg, store: cfg.Store, ctx: context.Background(), rnd: cfg.Rand,
		swarms: make(map[string]*wswarm), conns: make(map[ConnID]*connState),
	}
}

func (c *Core) policy(stream string) signalling.Policy {
	if c.cfg.Policy == nil {
		return signalling.Policy{P2PEnabled: true, Neighbours: 10}
	}
	return c.cfg.Policy(stream)
}

// Open registers connection id from addr (the remote IP: bans and locality use it).
func (c *Core) Open(id ConnID, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns[id] = &connState{addr: addr}
}

// Counts returns the members and swarms of this core, and the answers it did not
// forward (to no offer it had sent, or to a peer gone).
func (c *Core) Counts() (peers, swarms int, dropped uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sw := range c.swarms {
		peers += len(sw.members)
	}
	return peers, len(c.swarms), c.dropped
}

// Announce acts on one announce from connection id at now and returns the messages
// to send, in order: the reply to id (none for an answer, as in the library), then
// forwarded offers or the forwarded answer.
func (c *Core) Announce(now time.Time, id ConnID, a *webtorrent.Announce) []Out {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.conns[id]
	if cs == nil {
		return nil // closed meanwhile
	}
	refuse := func(reason string) []Out {
		return []Out{{To: id, Msg: &webtorrent.Failure{Action: webtorrent.ActionAnnounce, Reason: reason, InfoHash: a.InfoHash}}}
	}
	key := Key(a.InfoHash)
	sw := c.swarms[a.InfoHash]
	var m *member
	if sw != nil {
		if i, ok := sw.index[a.PeerID]; ok {
			m = sw.members[i]
		}
	}
	if m != nil && m.conn != id {
		return refuse("peer_id is in use by another connection") // no take-over of others' answers
	}
	if a.Answer != nil {
		return c.answer(id, sw, m, a)
	}
	if a.Event == webtorrent.EventStopped {
		if m != nil {
			c.removeLocked(now, a.InfoHash, sw, m)
			cs.joins = slices.DeleteFunc(cs.joins, func(j join) bool { return j == join{a.InfoHash, a.PeerID} })
		}
		return c.reply(id, a.InfoHash)
	}
	if m == nil {
		switch banned, err := c.store.Banned(c.ctx, key, "", cs.addr, now); {
		case err != nil:
			return refuse("tracker state unavailable")
		case banned:
			return refuse("this address is banned from this swarm")
		}
		if sw == nil && len(c.swarms) >= c.cfg.MaxSwarms {
			return refuse("tracker holds its maximum number of swarms")
		}
		if len(cs.joins) >= c.cfg.MaxSwarmsPerConn {
			return refuse("too many swarms on one connection")
		}
		if err := c.store.AddPeer(c.ctx, key, swarm.Peer{ID: webtorrent.Hex(a.PeerID), Addr: cs.addr, Joined: now}); err != nil && !errors.Is(err, swarm.ErrPeerExists) {
			return refuse("tracker state unavailable")
		}
		if sw == nil {
			sw = &wswarm{index: make(map[string]int)}
			c.swarms[a.InfoHash] = sw
		}
		m = &member{peerID: a.PeerID, conn: id, addr: cs.addr}
		sw.index[a.PeerID] = len(sw.members)
		sw.members = append(sw.members, m)
		sw.incomplete++
		cs.joins = append(cs.joins, join{a.InfoHash, a.PeerID})
	}
	if !m.complete && (a.Complete || a.Event == webtorrent.EventCompleted) {
		m.complete = true
		sw.complete++
		sw.incomplete--
	}
	if a.Uploaded != nil || a.Downloaded != nil {
		var ctr swarm.Counters
		if a.Uploaded != nil {
			ctr.BytesUp = *a.Uploaded
		}
		_, _ = c.store.UpdateStats(c.ctx, key, webtorrent.Hex(a.PeerID), ctr) // figures only
	}
	outs := c.reply(id, a.InfoHash)
	if len(a.Offers) == 0 {
		return outs
	}
	pol := c.policy(key.Stream)
	if !pol.P2PEnabled {
		return outs
	}
	want := len(a.Offers)
	if pol.Neighbours > 0 {
		want = min(want, pol.Neighbours)
	}
	for i, to := range c.pick(sw, m, want) {
		o := a.Offers[i]
		to.offers = remember(to, sentOffer{offerID: o.OfferID, from: a.PeerID})
		outs = append(outs, Out{To: to.conn, Msg: &webtorrent.ForwardedOffer{
			InfoHash: a.InfoHash, PeerID: a.PeerID, OfferID: o.OfferID, Offer: o.Offer,
		}})
	}
	return outs
}

func remember(m *member, o sentOffer) []sentOffer {
	if len(m.offers) < offersKept {
		return append(m.offers, o)
	}
	m.offers[m.next] = o
	m.next = (m.next + 1) % offersKept
	return m.offers
}

// answer forwards an answer to the peer whose offer it answers: only if that peer
// really sent this member that offer through the tracker.
func (c *Core) answer(id ConnID, sw *wswarm, m *member, a *webtorrent.Announce) []Out {
	if m == nil || !slices.Contains(m.offers, sentOffer{offerID: a.OfferID, from: a.ToPeerID}) {
		c.dropped++
		return nil
	}
	i, ok := sw.index[a.ToPeerID]
	if !ok {
		c.dropped++
		return nil
	}
	return []Out{{To: sw.members[i].conn, Msg: &webtorrent.ForwardedAnswer{
		InfoHash: a.InfoHash, PeerID: a.PeerID, OfferID: a.OfferID, Answer: a.Answer,
	}}}
}

func (c *Core) reply(id ConnID, infoHash string) []Out {
	r := &webtorrent.AnnounceReply{InfoHash: infoHash, Interval: webtorrent.Interval}
	if sw := c.swarms[infoHash]; sw != nil {
		r.Complete, r.Incomplete = sw.complete, sw.incomplete
	}
	return []Out{{To: id, Msg: r}}
}

// pick chooses up to want members other than m for its offers: from a random window
// of sample·want members, the nearest first (swarm.Locality: same address prefix,
// then any), in random order inside a tier — not the native swarm's strongest-first
// alternation, since WebTorrent peers declare no upload capacity.
func (c *Core) pick(sw *wswarm, m *member, want int) []*member {
	n := len(sw.members)
	if want <= 0 || n < 2 {
		return nil
	}
	window := min(n, max(64, sample*want))
	start := c.rnd.IntN(n)
	me := swarm.Peer{Addr: m.addr}
	type cand struct {
		m    *member
		tier int
		r    uint64
	}
	cands := make([]cand, 0, window)
	for k := range window {
		o := sw.members[(start+k)%n]
		if o == m {
			continue
		}
		cands = append(cands, cand{o, swarm.Locality(me, swarm.Peer{Addr: o.addr}), c.rnd.Uint64()})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(cmp.Compare(a.tier, b.tier), cmp.Compare(a.r, b.r)) })
	out := make([]*member, 0, min(want, len(cands)))
	for _, cd := range cands[:min(want, len(cands))] {
		out = append(out, cd.m)
	}
	return out
}

// removeLocked takes m out of sw (and sw out of the core once empty).
func (c *Core) removeLocked(now time.Time, infoHash string, sw *wswarm, m *member) {
	i := sw.index[m.peerID]
	last := len(sw.members) - 1
	sw.members[i] = sw.members[last]
	sw.index[sw.members[i].peerID] = i
	sw.members[last] = nil
	sw.members = sw.members[:last]
	delete(sw.index, m.peerID)
	if m.complete {
		sw.complete--
	} else {
		sw.incomplete--
	}
	_, _ = c.store.RemovePeer(c.ctx, Key(infoHash), webtorrent.Hex(m.peerID), now) // totals stay with the swarm
	if len(sw.members) == 0 {
		delete(c.swarms, infoHash)
	}
}

// Close forgets connection id: it leaves every swarm it announced in (the library's
// synthetic "stopped"). Nobody is told: WebTorrent peers notice closed data channels.
func (c *Core) Close(now time.Time, id ConnID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.conns[id]
	if cs == nil {
		return
	}
	delete(c.conns, id)
	for _, j := range cs.joins {
		sw := c.swarms[j.infoHash]
		if sw == nil {
			continue
		}
		if i, ok := sw.index[j.peerID]; ok && sw.members[i].conn == id {
			c.removeLocked(now, j.infoHash, sw, sw.members[i])
		}
	}
}

// Scrape answers a scrape: the asked swarms in order, or up to ScrapeAll of all of
// them (sorted by info hash).
func (c *Core) Scrape(id ConnID, s *webtorrent.Scrape) []Out {
	c.mu.Lock()
	defer c.mu.Unlock()
	hashes := s.InfoHashes
	if hashes == nil {
		for h := range c.swarms {
			hashes = append(hashes, h)
		}
		slices.Sort(hashes)
		hashes = hashes[:min(len(hashes), c.cfg.ScrapeAll)]
	}
	r := &webtorrent.ScrapeReply{MinInterval: webtorrent.MinScrapeInterval, Files: make([]webtorrent.ScrapeFile, len(hashes))}
	for i, h := range hashes {
		r.Files[i].InfoHash = h
		if sw := c.swarms[h]; sw != nil {
			r.Files[i].Complete, r.Files[i].Incomplete = sw.complete, sw.incomplete
		}
	}
	return []Out{{To: id, Msg: r}}
}
