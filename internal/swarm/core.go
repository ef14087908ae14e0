package swarm

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Out is one message the core wants delivered: Msg to peer To of Swarm. Close asks the
// caller to disconnect To once Msg is written; the core has already removed it.
type Out struct {
	Swarm SwarmKey
	To    string
	Msg   signalling.Message
	Close bool
}

// Core holds the swarm decisions. It is safe for concurrent use: calls on one swarm are
// serialised by that swarm's lock, calls on different swarms run in parallel. A caller
// that must deliver the Outs of one swarm in decision order serialises its own calls
// per swarm (internal/tracker does).
type Core struct {
	cfg   Config
	store Store
	ctx   context.Context // Store calls carry no deadline: the core does no I/O of its own

	rmu sync.Mutex
	rnd *rand.Rand

	mu       sync.Mutex
	swarms   map[SwarmKey]*swarm // swarms with at least one member
	policies map[string]signalling.Policy
}

// swarm is one swarm's membership and seeding, guarded by mu.
type swarm struct {
	mu      sync.Mutex
	dead    bool // removed from Core.swarms (last member left): look it up again
	members []Peer
	index   map[string]int      // id → position in members
	seeds   *seeding            // nil while P2P is off
	claims  map[string][]string // restored members → neighbours they claimed, until Settle
	watch   map[string]watch    // seeders' shown upload (shown.go); only seeders
	// watchRing holds watch's ids in the order they were first watched (and
	// some since unwatched): stats messages check them in turn (shown.go).
	watchRing []string
	watchNext int
}

// New validates cfg, fills defaults and returns a Core.
func New(cfg Config) (*Core, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Core{
		cfg:      cfg,
		store:    cfg.Store,
		ctx:      context.Background(),
		rnd:      cfg.Rand,
		swarms:   make(map[SwarmKey]*swarm),
		policies: make(map[string]signalling.Policy),
	}, nil
}

// Store returns the core's store (for stats and tests).
func (c *Core) Store() Store { return c.store }

// Config is the core's configuration, defaults filled in.
func (c *Core) Config() Config { return c.cfg }

// Policy returns the policy in force for stream.
func (c *Core) Policy(stream string) signalling.Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policyLocked(stream)
}

func (c *Core) policyLocked(stream string) signalling.Policy {
	if p, ok := c.policies[stream]; ok {
		return p
	}
	return c.cfg.defaultPolicy()
}

// Members returns the number of members of swarm k in this core.
func (c *Core) Members(k SwarmKey) int {
	sw := c.lock(k, false)
	if sw == nil {
		return 0
	}
	defer sw.mu.Unlock()
	return len(sw.members)
}

// Collect drops expired bans and strikes, and swarms empty for EmptySwarmTTL.
func (c *Core) Collect(now time.Time) error {
	return c.store.Collect(c.ctx, now, c.cfg.EmptySwarmTTL)
}

// lock returns swarm k locked, creating it when create is set (nil otherwise if absent).
func (c *Core) lock(k SwarmKey, create bool) *swarm {
	for {
		c.mu.Lock()
		sw := c.swarms[k]
		if sw == nil {
			if !create {
				c.mu.Unlock()
				return nil
			}
			sw = &swarm{index: make(map[string]int)}
			c.swarms[k] = sw
		}
		c.mu.Unlock()
		sw.mu.Lock()
		if !sw.dead {
			return sw
		}
		sw.mu.Unlock() // emptied and dropped while we waited
	}
}

// dropIfEmpty forgets sw once its last member is gone. sw must be locked.
func (c *Core) dropIfEmpty(k SwarmKey, sw *swarm) {
	if len(sw.members) > 0 {
		return
	}
	sw.dead = true
	c.mu.Lock()
	if c.swarms[k] == sw {
		delete(c.swarms, k)
	}
	c.mu.Unlock()
}

func (sw *swarm) member(id string) (Peer, bool) {
	i, ok := sw.index[id]
	if !ok {
		return Peer{}, false
	}
	return sw.members[i], true
}

func (sw *swarm) add(p Peer) {
	sw.index[p.ID] = len(sw.members)
	sw.members = append(sw.members, p)
}

// remove deletes id by moving the last member into its place: O(1), and the order
// stays a function of the event history, so iteration is deterministic.
func (sw *swarm) remove(id string) bool {
	i, ok := sw.index[id]
	if !ok {
		return false
	}
	last := len(sw.members) - 1
	sw.members[i] = sw.members[last]
	sw.index[sw.members[i].ID] = i
	sw.members[last] = Peer{}
	sw.members = sw.members[:last]
	delete(sw.index, id)
	return true
}

func (sw *swarm) candidates() []Candidate {
	out := make([]Candidate, len(sw.members))
	for i, p := range sw.members {
		out[i] = Candidate{ID: p.ID, Upload: float64(p.UploadCapacity)}
	}
	return out
}

// uint64 and intN draw from the shared random source.
func (c *Core) uint64() uint64 {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.rnd.Uint64()
}

// stripeOuts turns seeding changes into messages, in id order (determinism).
func stripeOuts(k SwarmKey, changed map[string]signalling.Stripe) []Out {
	ids := make([]string, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	out := make([]Out, len(ids))
	for i, id := range ids {
		st := changed[id]
		out[i] = Out{Swarm: k, To: id, Msg: &st}
	}
	return out
}

func errorOut(k SwarmKey, to, code, msg string) []Out {
	return []Out{{Swarm: k, To: to, Msg: &signalling.Error{Code: code, Message: msg}}}
}
