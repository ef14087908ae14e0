package announce

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
	"golang.org/x/time/rate"
)

// Config configures a Server. Zero fields take the defaults beside them, which are
// the native tracker's (internal/tracker.Config), so both endpoints hold peers alike.
type Config struct {
	Core            CoreConfig
	MaxMessageBytes int64         // largest client message; default 64 KiB
	RateLimit       float64       // messages per second per connection; default 50
	RateBurst       int           // default 100
	PeerTimeout     time.Duration // no message or pong for this long → dropped; default 30s
	SendQueue       int           // outbound messages queued per connection; default 64
	SendQueueBytes  int           // outbound bytes queued per connection; default 1 MiB
	WriteTimeout    time.Duration // one write; default 10s
	OriginPatterns  []string      // nil → any origin
	// Addr returns the remote IP of a request (bans, locality); nil → r.RemoteAddr's host.
	Addr func(*http.Request) string
	// Limits counts connections and joins per address (a WebTorrent socket is
	// counted as one join when it opens); nil → its own, with quota's defaults.
	Limits     *quota.Limits
	Logger     *slog.Logger          // nil → discard
	Registerer prometheus.Registerer // nil → no metrics
	Now        func() time.Time      // nil → time.Now (bans)
	// Cluster, when set, sends announces to their swarm's owner node instead of this
	// server's Core (which then answers scrapes only); nil → one process.
	Cluster Cluster
}

func (c *Config) defaults() {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	if c.RateBurst == 0 {
		c.RateBurst = 100
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 30 * time.Second
	}
	if c.SendQueue == 0 {
		c.SendQueue = 64
	}
	if c.SendQueueBytes == 0 {
		c.SendQueueBytes = 1 << 20
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Addr == nil {
		c.Addr = func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Limits == nil {
		c.Limits, _ = quota.New(quota.Config{}) // the zero Config is valid
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the GET /announce WebSocket endpoint around a Core.
type Server struct {
	cfg  Config
	core *Core
	log  *slog.Logger
	m    *metrics
	ids  atomic.Uint64

	mu    sync.Mutex
	conns map[ConnID]*conn
}

// New returns a Server with its own Core.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.MaxMessageBytes < 256 || cfg.RateLimit < 0 || cfg.RateBurst < 1 || cfg.SendQueue < 1 ||
		cfg.SendQueueBytes < 1 || cfg.PeerTimeout < 30*time.Millisecond || cfg.WriteTimeout < 0 {
		return nil, fmt.Errorf("announce: bad config: negative or too small limit")
	}
	s := &Server{cfg: cfg, core: NewCore(cfg.Core), log: cfg.Logger, conns: make(map[ConnID]*conn)}
	m, err := newMetrics(cfg.Registerer, s.core)
	if err != nil {
		return nil, err
	}
	s.m = m
	return s, nil
}

// Core returns the server's core.
func (s *Server) Core() *Core { return s.core }

// ServeHTTP upgrades GET /announce to a WebSocket.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &conn{
		s:        s,
		id:       ConnID(s.ids.Add(1)),
		addr:     s.cfg.Addr(r),
		limiter:  rate.NewLimiter(rate.Limit(s.cfg.RateLimit), s.cfg.RateBurst),
		finished: make(chan struct{}),
	}
	if ip, err := netip.ParseAddr(c.addr); err == nil {
		if err := s.admit(ip); err != nil {
			s.m.failures.WithLabelValues("addr_limit").Inc()
			s.log.Debug("announce: refused", "addr", c.addr, "err", err)
			http.Error(w, "announce: "+err.Error(), http.StatusTooManyRequests)
			return
		}
		c.ip = ip
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:     s.cfg.OriginPatterns,
		InsecureSkipVerify: len(s.cfg.OriginPatterns) == 0,
		CompressionMode:    websocket.CompressionDisabled,
		OnPongReceived:     func(context.Context, []byte) { c.touch() },
	})
	if err != nil {
		s.release(c)
		return
	}
	ws.SetReadLimit(s.cfg.MaxMessageBytes + 1)
	c.ws = ws
	s.core.Open(c.id, c.addr)
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	go c.serve(context.Background()) // free the handler's stack, as internal/tracker does
}

// Shutdown closes every connection with "going away".
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.closeAfter(nil, websocket.StatusGoingAway, "tracker shutting down")
	}
}

// handle decodes and acts on one client message.
func (s *Server) handle(c *conn, b []byte) {
	m, err := webtorrent.DecodeRequest(b)
	if err != nil {
		f := webtorrent.FailureOf(err)
		s.m.failures.WithLabelValues("bad_request").Inc()
		s.log.Debug("announce: refused", "addr", c.addr, "reason", f.Reason)
		c.send(f)
		return
	}
	var outs []Out
	switch m := m.(type) {
	case *webtorrent.Announce:
		s.m.announces.WithLabelValues(m.Event).Inc()
		if s.cfg.Cluster != nil {
			s.cfg.Cluster.Announce(s.cfg.Now(), c.id, c.addr, m.InfoHash, b)
			return
		}
		outs = s.core.Announce(s.cfg.Now(), c.id, m)
	case *webtorrent.Scrape:
		s.m.scrapes.Inc()
		if s.cfg.Cluster != nil {
			s.cfg.Cluster.Scrape(s.cfg.Now(), c.id, m, b)
			return
		}
		outs = s.core.Scrape(c.id, m)
	}
	s.deliver(outs)
}

// Deliver writes outs to this server's connections (those gone are skipped): the
// Cluster hands it the owners' messages.
func (s *Server) Deliver(outs []Out) { s.deliver(outs) }

func (s *Server) deliver(outs []Out) {
	for _, o := range outs {
		switch o.Msg.(type) {
		case *webtorrent.ForwardedOffer:
			s.m.offers.Inc()
		case *webtorrent.ForwardedAnswer:
			s.m.answers.Inc()
		case *webtorrent.Failure:
			s.m.failures.WithLabelValues("refused").Inc()
		}
		s.mu.Lock()
		c := s.conns[o.To]
		s.mu.Unlock()
		if c != nil {
			c.send(o.Msg)
		}
	}
}

// admit counts a new socket from ip as a connection and a join.
func (s *Server) admit(ip netip.Addr) error {
	if err := s.cfg.Limits.Open(ip); err != nil {
		return err
	}
	if err := s.cfg.Limits.Join(ip, time.Now()); err != nil {
		s.cfg.Limits.Close(ip)
		return err
	}
	return nil
}

// release gives c's address its connection back, once.
func (s *Server) release(c *conn) {
	if c.ip.IsValid() && !c.released.Swap(true) {
		s.cfg.Limits.Close(c.ip)
	}
}

func (s *Server) drop(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	s.release(c)
	s.core.Close(s.cfg.Now(), c.id)
	if s.cfg.Cluster != nil {
		s.cfg.Cluster.Close(s.cfg.Now(), c.id)
	}
}
