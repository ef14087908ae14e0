package swarm

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// DefaultMaxNeighbours is how many neighbours the tracker introduces to each
// peer. 20, not 10: a viewer with more links finds a free holder of a piece
// more often, so strong uplinks stay busy (virtual time, 60 s, heterogeneous
// 1,000 viewers: 76.0% offload with 10, 85.3% with 16, 89.4% with 20, 89.5%
// with 24 but 3 stalls; docs/tracker.md "Tuning history").
const DefaultMaxNeighbours = 20

// Config configures a Core. Every zero field takes the default written beside it.
type Config struct {
	MaxNeighbours int // neighbour bound per peer; default DefaultMaxNeighbours
	// DefaultPolicy applies to streams without SetPolicy; nil → P2P on, no upload cap,
	// MaxNeighbours neighbours.
	DefaultPolicy *signalling.Policy

	BanDuration   time.Duration // how long a banned id/address stays out of a swarm; default 1h
	MaxStrikes    int           // uncorroborated reports after which an address's reports are ignored; default 3
	StrikeTTL     time.Duration // uncorroborated reports are forgotten after this; default 1h
	EmptySwarmTTL time.Duration // an empty swarm's totals are kept this long (Collect); default 10m
	MaxSwarms     int           // swarms with members in this core; default 10000

	Store Store      // nil → NewMemStore(64)
	Rand  *rand.Rand // neighbour sampling; nil → a PCG with seed (0, 0). Used under the Core's lock.
	// OnReport, if set, is told the outcome of every report (for metrics). It is
	// called with a swarm's lock held and must not call back into the Core.
	OnReport func(k SwarmKey, o Outcome)
	// SeedGrace: a seeder whose reported upload does not grow for this long loses its
	// stripe (shown.go); default 6s (three stats reports); negative: never.
	SeedGrace time.Duration
	// OnDemote, if set, is told of each seeder demoted for showing no upload (for
	// metrics and logs), under the swarm's lock like OnReport.
	OnDemote func(k SwarmKey, id string)
}

// Outcome is what a report led to.
type Outcome string

// Report outcomes.
const (
	OutcomeAccepted     Outcome = "accepted"      // recorded, not (yet) corroborated
	OutcomeBan          Outcome = "ban"           // corroborated: the target is banned
	OutcomeMuted        Outcome = "muted"         // the reporter's address has too many strikes
	OutcomeNotNeighbour Outcome = "not_neighbour" // the target was never the reporter's neighbour
	OutcomeUnknownPeer  Outcome = "unknown_peer"  // the target is not in the swarm
)

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
	def(&c.MaxNeighbours, DefaultMaxNeighbours)
	def(&c.MaxStrikes, 3)
	def(&c.MaxSwarms, 10000)
	dur(&c.BanDuration, time.Hour)
	dur(&c.StrikeTTL, time.Hour)
	dur(&c.EmptySwarmTTL, 10*time.Minute)
	dur(&c.SeedGrace, 6*time.Second)
	if c.OnDemote == nil {
		c.OnDemote = func(SwarmKey, string) {}
	}
	switch {
	case c.MaxNeighbours < 0 || c.MaxStrikes < 1 || c.MaxSwarms < 1:
		return c, fmt.Errorf("%w: negative or too small limit", ErrBadConfig)
	case c.BanDuration < 0 || c.StrikeTTL < 0 || c.EmptySwarmTTL < 0:
		return c, fmt.Errorf("%w: negative duration", ErrBadConfig)
	}
	if c.Store == nil {
		c.Store = NewMemStore(64)
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(0, 0))
	}
	return c, nil
}

func (c Config) defaultPolicy() signalling.Policy {
	if c.DefaultPolicy == nil {
		return signalling.Policy{P2PEnabled: true, Neighbours: c.MaxNeighbours}
	}
	return c.DefaultPolicy.Normalise(c.MaxNeighbours)
}
