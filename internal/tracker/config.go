package tracker

import (
	"context"
	"fmt"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shoal-cdn/shoal/internal/quota"
)

// Config configures a Tracker. The zero value is valid: every zero field takes the
// default written beside it.
type Config struct {
	MaxNeighbours   int           // neighbour bound per peer; default swarm.DefaultMaxNeighbours
	MaxMessageBytes int64         // largest client message; default 64 KiB
	RateLimit       float64       // messages per second per connection; default 50
	RateBurst       int           // burst above RateLimit; default 100
	PeerTimeout     time.Duration // no message or pong for this long → dropped; default 30s
	// Deprecated: ignored since connections are event-driven (writes never block;
	// SendQueueBytes bounds what a peer may leave unread).
	SendQueue      int
	SendQueueBytes int // outbound bytes held for a peer that does not read; beyond → dropped; default 1 MiB
	// Deprecated: ignored, as SendQueue.
	WriteTimeout time.Duration

	// PlaySecret, when set, requires a viewer token (internal/token) for the joined
	// stream, in the join message or on the upgrade request (?token= / Bearer).
	PlaySecret []byte
	// DefaultPolicy applies to streams without SetPolicy; nil → P2P on, no upload cap,
	// MaxNeighbours neighbours.
	DefaultPolicy *Policy

	BanDuration   time.Duration // how long a banned id/address stays out of a swarm; default 1h
	MaxStrikes    int           // uncorroborated reports after which an address's reports are ignored; default 3
	StrikeTTL     time.Duration // uncorroborated reports are forgotten after this; default 1h
	EmptySwarmTTL time.Duration // an empty swarm's totals stay in /api/streams this long; default 10m
	MaxSwarms     int           // swarms with peers on this tracker; default 10000

	// TrustProxy uses the right-most X-Forwarded-For address of every request as the
	// peer's address (only where nobody reaches the tracker but through a proxy that
	// sets it, or in tests); otherwise r.RemoteAddr, see TrustedProxies.
	TrustProxy bool
	// TrustedProxies are the operator's reverse proxies: a request from one of them is
	// the right-most X-Forwarded-For address that is not itself one (quota.Proxies).
	// Other senders' X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// AddrLimits bounds open connections and joins per source address, over /tracker
	// and /announce together (internal/quota; zero value: 1,000 each, the joins
	// refilled in 20 s, so carrier-grade NAT works).
	AddrLimits quota.Config
	// OriginPatterns restricts browser origins (coder/websocket syntax); nil → any origin,
	// since viewers' pages live on other sites and tokens do the access control.
	OriginPatterns []string

	// AdminToken guards the admin API's writes (docs/admin.md: Authorization: Bearer).
	// Empty: writes are refused, unless AdminOpen (a loopback-only `shoal up`).
	AdminToken string
	AdminOpen  bool
	// WelcomeTrackers and WelcomeEdges are sent in every welcome (trackers, edges):
	// the other tracker nodes and the edges viewers may fail over to; nil → none.
	WelcomeTrackers []string
	WelcomeEdges    []string
	// Controls keeps the operator's policies across restarts; nil → memory only.
	Controls ControlStore
	// OnTakedown, if set, is called after the tracker took a stream down (down) or
	// restored it, to tell the origin and the edges; an error is the operator's 502.
	OnTakedown func(ctx context.Context, stream string, down bool) error
	// RegionHeader names a request header the operator's proxy or edge sets to the
	// viewer's region (e.g. "X-Shoal-Region"); only safe where clients cannot reach
	// the tracker without that proxy. RegionCIDRs map addresses to regions (longest
	// prefix first, see ParseRegionCIDRs). With either set, a client's declared
	// region is ignored, so a per-region policy cannot be dodged by lying.
	RegionHeader string
	RegionCIDRs  []RegionCIDR

	// Cluster, when set, makes this tracker a node of a cluster (internal/cluster);
	// nil → this process decides alone.
	Cluster    Cluster
	Store      Store                 // nil → NewMemStore(64)
	Logger     *slog.Logger          // nil → discard
	Registerer prometheus.Registerer // nil → no metrics
	Now        func() time.Time      // nil → time.Now
}

// withDefaults fills the frontend's own defaults; the swarm fields
// (MaxNeighbours … MaxSwarms) are the core's to default and check
// (swarm.Config), so each is defined once.
func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.RateBurst, 100)
	def(&c.SendQueue, 64)
	def(&c.SendQueueBytes, 1<<20)
	dur(&c.PeerTimeout, 30*time.Second)
	dur(&c.WriteTimeout, 10*time.Second)
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	switch {
	case c.MaxMessageBytes < 256 || c.RateLimit < 0 || c.RateBurst < 1 || c.SendQueue < 1 || c.SendQueueBytes < 1:
		return c, fmt.Errorf("%w: negative or too small limit (MaxMessageBytes ≥ 256)", ErrBadConfig)
	case c.PeerTimeout < 30*time.Millisecond || c.WriteTimeout < 0:
		return c, fmt.Errorf("%w: negative duration or PeerTimeout under 30ms", ErrBadConfig)
	}
	if err := signalling.CheckFailoverURLs(c.WelcomeTrackers, c.WelcomeEdges); err != nil {
		return c, fmt.Errorf("%w: welcome lists: %w", ErrBadConfig, err)
	}
	if c.Store == nil {
		c.Store = NewMemStore(64)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Controls == nil {
		c.Controls = &MemControlStore{}
	}
	c.RegionCIDRs = slices.Clone(c.RegionCIDRs)
	sortCIDRs(c.RegionCIDRs)
	return c, nil
}
