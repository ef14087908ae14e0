package tracker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/token"
	"golang.org/x/time/rate"
)

// Tracker is the signalling server. Create it with New, serve Handler, and run Run for
// housekeeping (expired bans, idle swarms) and graceful shutdown.
type Tracker struct {
	cfg   Config
	store Store
	log   *slog.Logger
	m     *metrics
	now   func() time.Time

	seed  maphash.Seed
	locks [256]sync.Mutex // serialise membership changes per swarm (by key hash)

	mu          sync.RWMutex
	conns       map[SwarmKey]map[string]*conn // joined peers on this tracker
	all         map[*conn]struct{}            // every open connection, joined or not
	streamPeers map[string]int                // for the peers{stream} gauge
	policies    map[string]Policy
	seeds       map[SwarmKey]*seeding // the map under mu, each value under its swarm lock
	rnd         *mrand.Rand           // guarded by mu
}

// New validates cfg, fills defaults and returns a Tracker.
func New(cfg Config) (*Tracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Tracker{
		cfg:         cfg,
		store:       cfg.Store,
		log:         cfg.Logger,
		m:           m,
		now:         cfg.Now,
		seed:        maphash.MakeSeed(),
		conns:       make(map[SwarmKey]map[string]*conn),
		all:         make(map[*conn]struct{}),
		streamPeers: make(map[string]int),
		policies:    make(map[string]Policy),
		seeds:       make(map[SwarmKey]*seeding),
		rnd:         mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64())),
	}, nil
}

// Handler serves GET /tracker (WebSocket) and GET /api/streams (JSON).
func (t *Tracker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tracker", t.serveWS)
	mux.HandleFunc("GET /api/streams", t.serveStreams)
	return mux
}

// Run collects expired state until ctx ends, then closes every connection with
// "going away" and returns nil.
func (t *Tracker) Run(ctx context.Context) error {
	every := min(t.cfg.EmptySwarmTTL, 30*time.Second)
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.mu.RLock()
			for c := range t.all {
				c.closeAfter(nil, websocket.StatusGoingAway, "tracker shutting down")
			}
			t.mu.RUnlock()
			return nil
		case <-tick.C:
			if err := t.store.Collect(ctx, t.now(), t.cfg.EmptySwarmTTL); err != nil {
				t.log.Warn("tracker: collect", "err", err)
			}
		}
	}
}

// SetPolicy sets the policy of stream and pushes it to every connected peer of the
// stream (all renditions); lowering the neighbour bound drops surplus links, disabling
// P2P drops all of them and every seeder's stripe, enabling it introduces neighbours
// and seeders.
func (t *Tracker) SetPolicy(stream string, p Policy) {
	p = p.normalise(t.cfg.MaxNeighbours)
	t.mu.Lock()
	t.policies[stream] = p
	var swarms []SwarmKey
	for k := range t.conns {
		if k.Stream == stream {
			swarms = append(swarms, k)
		}
	}
	t.mu.Unlock()
	ctx := context.Background()
	for _, s := range swarms {
		unlock := t.lock(s)
		for _, c := range t.swarmConns(s) {
			c.send(&p)
		}
		t.applyPolicyLocked(ctx, s, p)
		t.reseedLocked(s, p.P2PEnabled)
		unlock()
	}
}

func (t *Tracker) policy(stream string) Policy {
	t.mu.RLock()
	p, ok := t.policies[stream]
	t.mu.RUnlock()
	if !ok {
		p = t.cfg.defaultPolicy()
	}
	return p
}

func (t *Tracker) lock(s SwarmKey) (unlock func()) {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(s.Stream)
	h.WriteByte(0)
	h.WriteString(s.Rendition)
	l := &t.locks[h.Sum64()%uint64(len(t.locks))]
	l.Lock()
	return l.Unlock
}

func (t *Tracker) conn(s SwarmKey, id string) *conn {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.conns[s][id]
}

func (t *Tracker) swarmConns(s SwarmKey) []*conn {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*conn, 0, len(t.conns[s]))
	for _, c := range t.conns[s] {
		out = append(out, c)
	}
	return out
}

func (t *Tracker) sendTo(s SwarmKey, id string, m Message) {
	if c := t.conn(s, id); c != nil {
		c.send(m)
	}
}

func newPeerID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// remoteIP returns the peer's address: the right-most X-Forwarded-For entry (the one
// our proxy appended) when TrustProxy is set, else the TCP peer.
func (t *Tracker) remoteIP(r *http.Request) string {
	if t.cfg.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				return ip.Unmap().String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String()
	}
	return host
}

func (t *Tracker) serveWS(w http.ResponseWriter, r *http.Request) {
	c := &conn{
		t:        t,
		addr:     t.remoteIP(r),
		limiter:  rate.NewLimiter(rate.Limit(t.cfg.RateLimit), t.cfg.RateBurst),
		finished: make(chan struct{}),
	}
	if len(t.cfg.PlaySecret) > 0 {
		c.reqToken = token.FromRequest(r)
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:     t.cfg.OriginPatterns,
		InsecureSkipVerify: len(t.cfg.OriginPatterns) == 0,
		CompressionMode:    websocket.CompressionDisabled,
		OnPongReceived:     func(context.Context, []byte) { c.touch() },
	})
	if err != nil {
		return // Accept has written the HTTP error
	}
	ws.SetReadLimit(t.cfg.MaxMessageBytes + 1) // we enforce the limit ourselves to answer with an error message
	c.ws = ws
	t.mu.Lock()
	t.all[c] = struct{}{}
	t.mu.Unlock()
	// Serve from a fresh goroutine and return: net/http then frees the request and its
	// deep handler stack, which a long-lived peer would otherwise pin (~5 KiB each).
	go c.serve(context.Background())
}

// drop runs when a connection's reader ends: leave the swarm if still in it.
func (t *Tracker) drop(c *conn) {
	t.mu.Lock()
	delete(t.all, c)
	t.mu.Unlock()
	if c.peer.ID != "" {
		unlock := t.lock(c.swarm)
		t.removeLocked(context.Background(), c)
		unlock()
	}
	c.mu.Lock()
	graceful := c.closing && c.code != 0 // the drain goroutine flushes, then closes
	c.closing = true
	c.mu.Unlock()
	if !graceful {
		c.ws.CloseNow()
	}
}

func (t *Tracker) count(stream string, delta int) {
	t.streamPeers[stream] += delta
	if n := t.streamPeers[stream]; n > 0 {
		t.m.peers.WithLabelValues(stream).Set(float64(n))
	} else {
		delete(t.streamPeers, stream)
		t.m.peers.DeleteLabelValues(stream)
	}
	t.m.swarms.Set(float64(len(t.conns)))
}

// removeLocked takes c's peer out of its swarm, tells its neighbours, giving them
// replacements, and reassigns its stripe. The swarm lock must be held.
func (t *Tracker) removeLocked(ctx context.Context, c *conn) {
	c.mu.Lock()
	already := c.removed
	c.removed = true
	c.mu.Unlock()
	if already {
		return
	}
	s, id := c.swarm, c.peer.ID
	t.mu.Lock()
	if t.conns[s][id] == c {
		delete(t.conns[s], id)
		if len(t.conns[s]) == 0 {
			delete(t.conns, s)
		}
		t.count(s.Stream, -1)
	}
	t.mu.Unlock()
	t.seedLeaveLocked(s, id)
	nbrs, err := t.store.RemovePeer(ctx, s, id, t.now())
	if err != nil {
		t.log.Warn("tracker: remove peer", "swarm", s, "peer", id, "err", err)
		return
	}
	for _, n := range nbrs {
		add := t.refillLocked(ctx, s, n)
		t.sendTo(s, n, &Neighbours{Add: add, Remove: []string{id}})
	}
}

// refillLocked links peer id to new neighbours up to its join target and returns them
// (the new neighbours are told directly). The swarm lock must be held.
func (t *Tracker) refillLocked(ctx context.Context, s SwarmKey, id string) []Neighbour {
	if !t.policy(s.Stream).P2PEnabled {
		return nil
	}
	p, err := t.store.Peer(ctx, s, id)
	if err != nil {
		return nil
	}
	want := joinTarget(p.Limit) - p.Degree
	if want <= 0 {
		return nil
	}
	current, err := t.store.Neighbours(ctx, s, id)
	if err != nil {
		return nil
	}
	skip := make(map[string]bool, len(current))
	for _, n := range current {
		skip[n] = true
	}
	return t.linkLocked(ctx, s, p, skip, want)
}

// linkLocked chooses up to want new neighbours for p, links them, tells them about p
// and returns p's side of the new links.
func (t *Tracker) linkLocked(ctx context.Context, s SwarmKey, p Peer, skip map[string]bool, want int) []Neighbour {
	cands, err := t.store.OpenPeers(ctx, s, max(64, 8*want))
	if err != nil {
		t.log.Warn("tracker: open peers", "swarm", s, "err", err)
		return nil
	}
	t.mu.Lock()
	chosen := choose(p, cands, skip, want, t.rnd)
	t.mu.Unlock()
	out := make([]Neighbour, 0, len(chosen))
	for _, ch := range chosen {
		if err := t.store.Link(ctx, s, p.ID, ch.ID); err != nil {
			continue
		}
		out = append(out, Neighbour{PeerID: ch.ID, Initiator: initiates(p, ch)})
		t.sendTo(s, ch.ID, &Neighbours{Add: []Neighbour{{PeerID: p.ID, Initiator: initiates(ch, p)}}})
	}
	return out
}

// applyPolicyLocked brings the links of swarm s in line with p. The swarm lock must be held.
func (t *Tracker) applyPolicyLocked(ctx context.Context, s SwarmKey, p Policy) {
	conns := t.swarmConns(s)
	st, err := t.store.Swarm(ctx, s)
	if err != nil {
		return
	}
	var mean int64
	if st.Peers > 0 {
		mean = st.Capacity / int64(st.Peers)
	}
	for _, c := range conns {
		id := c.peer.ID
		bound := p.Neighbours
		if !p.P2PEnabled {
			bound = 0
		}
		limit := peerLimit(c.peer.UploadCapacity, mean, bound)
		if err := t.store.SetLimit(ctx, s, id, limit); err != nil {
			continue
		}
		nbrs, err := t.store.Neighbours(ctx, s, id)
		if err != nil || len(nbrs) <= limit {
			continue
		}
		drop := nbrs[limit:]
		for _, n := range drop {
			if t.store.Unlink(ctx, s, id, n) == nil {
				t.sendTo(s, n, &Neighbours{Remove: []string{id}})
			}
		}
		c.send(&Neighbours{Remove: drop})
	}
	if !p.P2PEnabled {
		return
	}
	for _, c := range conns {
		if add := t.refillLocked(ctx, s, c.peer.ID); len(add) > 0 {
			c.send(&Neighbours{Add: add})
		}
	}
}
