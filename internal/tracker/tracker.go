package tracker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/announce"
	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/token"
	"golang.org/x/time/rate"
)

// Tracker is the signalling server: the WebSocket and HTTP frontend of a swarm.Core,
// which makes every swarm decision; the tracker checks tokens, limits rates, keeps the
// connections and delivers the core's messages. Create it with New, serve Handler, and
// run Run for housekeeping (expired bans, idle swarms) and graceful shutdown.
type Tracker struct {
	cfg   Config
	core  *swarm.Core
	store Store
	log   *slog.Logger
	m     *metrics
	now   func() time.Time
	wt    *announce.Server // GET /announce: WebTorrent swarms in the same Store, under the same policies
	// limits count connections and joins per address over /tracker and /announce.
	limits  *quota.Limits
	proxies quota.Proxies

	// locks serialise each swarm's core calls with the delivery of their messages, so
	// a peer sees its swarm's changes in decision order.
	ws     wsServer
	origin func(*http.Request) bool

	seed  maphash.Seed
	locks [256]sync.Mutex

	ctl     controls
	extraMu sync.Mutex
	extra   map[SwarmKey]extra // what detached viewers add (detached.go)

	mu          sync.RWMutex
	conns       map[SwarmKey]map[string]*conn // joined peers on this tracker
	all         map[*conn]struct{}            // every open connection, joined or not
	streamPeers map[string]int                // for the peers{stream} gauge
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
	core, err := swarm.New(swarm.Config{
		MaxNeighbours: cfg.MaxNeighbours,
		DefaultPolicy: cfg.DefaultPolicy,
		BanDuration:   cfg.BanDuration,
		MaxStrikes:    cfg.MaxStrikes,
		StrikeTTL:     cfg.StrikeTTL,
		EmptySwarmTTL: cfg.EmptySwarmTTL,
		MaxSwarms:     cfg.MaxSwarms,
		Store:         cfg.Store,
		Rand:          mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64())),
		OnReport: func(_ SwarmKey, o swarm.Outcome) {
			m.reports.WithLabelValues(string(o)).Inc()
		},
		OnDemote: func(k SwarmKey, id string) {
			m.demoted.Inc()
			cfg.Logger.Info("tracker: seeder showed no upload: stripe moved", "swarm", k, "peer", id)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	limits, err := quota.New(cfg.AddrLimits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	t := &Tracker{
		limits:      limits,
		proxies:     quota.Proxies{Prefixes: cfg.TrustedProxies, All: cfg.TrustProxy},
		cfg:         cfg,
		core:        core,
		store:       cfg.Store,
		log:         cfg.Logger,
		m:           m,
		now:         cfg.Now,
		seed:        maphash.MakeSeed(),
		origin:      checkOrigin(cfg.OriginPatterns),
		conns:       make(map[SwarmKey]map[string]*conn),
		all:         make(map[*conn]struct{}),
		streamPeers: make(map[string]int),
		ctl:         controls{store: cfg.Controls},
		extra:       make(map[SwarmKey]extra),
	}
	t.wt, err = announce.New(announce.Config{
		Core:            announce.CoreConfig{Store: cfg.Store, Policy: core.Policy, MaxSwarms: cfg.MaxSwarms},
		MaxMessageBytes: cfg.MaxMessageBytes, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		PeerTimeout: cfg.PeerTimeout, SendQueue: cfg.SendQueue, SendQueueBytes: cfg.SendQueueBytes,
		WriteTimeout: cfg.WriteTimeout, OriginPatterns: cfg.OriginPatterns,
		Addr: t.remoteIP, Limits: limits, Logger: cfg.Logger, Registerer: cfg.Registerer, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	if err := t.loadControls(context.Background()); err != nil {
		return nil, err
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(newSwarmCollector(t)); err != nil {
			return nil, fmt.Errorf("tracker: register metrics: %w", err)
		}
	}
	if cfg.Cluster != nil {
		if err := cfg.Cluster.Start(core, t.deliver); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Handler serves GET /tracker (WebSocket), GET /announce (WebTorrent WebSocket
// tracker, docs/webtorrent.md) and GET /api/streams (JSON).
func (t *Tracker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tracker", t.serveWS)
	mux.Handle("GET /announce", t.wt)
	mux.HandleFunc("GET /api/streams", t.serveStreams)
	t.adminRoutes(mux)
	return mux
}

// Run collects expired state until ctx ends, then closes every connection with
// "going away" and returns nil.
func (t *Tracker) Run(ctx context.Context) error {
	every := min(t.core.Config().EmptySwarmTTL, 30*time.Second)
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
			t.wt.Shutdown()
			if t.cfg.Cluster != nil {
				t.drainThenLeave()
			}
			t.ws.stop()
			return nil
		case <-tick.C:
			if err := t.core.Collect(t.now()); err != nil {
				t.log.Warn("tracker: collect", "err", err)
			}
			t.collectExtras(ctx)
		}
	}
}

// SetPolicy sets the policy of stream and pushes it to every connected peer of the
// stream (all renditions); lowering the neighbour bound drops surplus links, disabling
// P2P drops all of them and every seeder's stripe, enabling it introduces neighbours
// and seeders.
func (t *Tracker) SetPolicy(stream string, p Policy) {
	// Every swarm lock, in index order: the stream's swarms change together, and no
	// other path holds more than one.
	for i := range t.locks {
		t.locks[i].Lock()
	}
	defer func() {
		for i := range t.locks {
			t.locks[i].Unlock()
		}
	}()
	if t.cfg.Cluster != nil {
		t.cfg.Cluster.SetPolicy(t.now(), stream, p)
		return
	}
	t.deliver(t.core.SetPolicy(t.now(), stream, p))
}

// drainThenLeave waits (up to a second) for the closed connections' leaves to reach
// their owners, then leaves the cluster, so the other nodes take over a clean state.
func (t *Tracker) drainThenLeave() {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		t.mu.RLock()
		n := len(t.all)
		t.mu.RUnlock()
		if n == 0 {
			break
		}
	}
	t.cfg.Cluster.Close()
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

// deliver sends the core's messages to the connections they are for; peers not
// connected here are skipped. A Close message ends its peer's connection, which the
// core has already taken out of the swarm.
func (t *Tracker) deliver(outs []swarm.Out) {
	for _, o := range outs {
		if b, ok := o.Msg.(*Banned); ok && o.Close {
			t.m.bans.Inc()
			t.log.Info("tracker: banned peer", "swarm", o.Swarm, "peer", o.To, "reason", b.Reason)
		}
		c := t.conn(o.Swarm, o.To)
		if c == nil {
			continue
		}
		if o.Close {
			t.detach(c)
			c.closeAfter(o.Msg, websocket.StatusPolicyViolation, "banned")
			continue
		}
		switch m := o.Msg.(type) {
		case *Signal:
			t.m.relayed.Inc()
		case *Stripe:
			t.m.stripes.Inc()
		case *Error:
			t.m.errors.WithLabelValues(m.Code).Inc()
		case *Policy:
			if p, own := t.regionPolicy(o.Swarm.Stream, c.peer.Region, *m); own {
				c.send(&p) // the region's own restriction of the stream's policy
				continue
			}
		}
		c.send(o.Msg)
	}
}

func newPeerID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// remoteIP returns the peer's address (quota.Proxies.ClientAddr): the TCP peer, or
// behind a trusted proxy the address it forwarded.
func (t *Tracker) remoteIP(r *http.Request) string {
	if ip := t.proxies.ClientAddr(r); ip.IsValid() {
		return ip.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host
}

func (t *Tracker) serveWS(w http.ResponseWriter, r *http.Request) {
	ip := t.proxies.ClientAddr(r)
	if ip.IsValid() {
		if err := t.limits.Open(ip); err != nil {
			t.m.errors.WithLabelValues(CodeAddrLimit).Inc()
			t.log.Debug("tracker: connection refused", "addr", ip, "err", err)
			http.Error(w, "tracker: "+err.Error(), http.StatusTooManyRequests)
			return
		}
	}
	c := &conn{
		t:       t,
		ip:      ip,
		addr:    t.remoteIP(r),
		limiter: rate.NewLimiter(rate.Limit(t.cfg.RateLimit), t.cfg.RateBurst),
	}
	if len(t.cfg.PlaySecret) > 0 {
		c.reqToken = token.FromRequest(r)
	}
	c.region, c.regionTrusted = t.trustedRegion(r, c.addr)
	u, err := t.upgrader(c)
	if err != nil {
		t.release(c)
		http.Error(w, "tracker: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	t.mu.Lock()
	t.all[c] = struct{}{}
	t.mu.Unlock()
	// No compression (the upgrader does not offer it); the socket leaves net/http.
	ws, err := u.UpgradeAndTransferConnToPoller(w, r, nil)
	if err != nil {
		t.mu.Lock()
		delete(t.all, c)
		t.mu.Unlock()
		t.release(c)
		return // the upgrader has written the HTTP error
	}
	c.attach(ws)
}

// release gives c's address its connection back, once.
func (t *Tracker) release(c *conn) {
	if c.ip.IsValid() && !c.released.Swap(true) {
		t.limits.Close(c.ip)
	}
}

// drop runs once a connection has ended: leave the swarm if still in it.
func (t *Tracker) drop(c *conn) {
	t.mu.Lock()
	delete(t.all, c)
	t.mu.Unlock()
	t.release(c)
	if c.peer.ID != "" {
		unlock := t.lock(c.swarm)
		t.removeLocked(c)
		unlock()
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

// detach forgets c's membership on this tracker; false if it was already gone.
func (t *Tracker) detach(c *conn) bool {
	c.mu.Lock()
	already := c.removed
	c.removed = true
	c.mu.Unlock()
	if already {
		return false
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
	return true
}

// removeLocked takes c's peer out of its swarm and delivers the consequences
// (neighbours told and given replacements, its stripe reassigned). The swarm lock
// must be held.
func (t *Tracker) removeLocked(c *conn) {
	if !t.detach(c) {
		return
	}
	if c.isDetached() {
		t.addExtra(c.swarm, extra{peers: -1})
		return
	}
	if t.cfg.Cluster != nil {
		t.cfg.Cluster.Leave(t.now(), c.swarm, c.peer.ID)
		return
	}
	outs, err := t.core.Leave(t.now(), c.swarm, c.peer.ID)
	if err != nil {
		t.log.Warn("tracker: remove peer", "swarm", c.swarm, "peer", c.peer.ID, "err", err)
	}
	t.deliver(outs)
}
