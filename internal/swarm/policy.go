package swarm

import (
	"cmp"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// SetPolicy sets the policy of stream (normalised to MaxNeighbours) and returns, for
// every member of the stream's swarms (all renditions), the new policy, then the link
// changes: lowering the neighbour bound drops surplus links, disabling P2P drops all
// of them and every seeder's stripe, enabling it introduces neighbours and seeders.
func (c *Core) SetPolicy(now time.Time, stream string, p signalling.Policy) []Out {
	p = p.Normalise(c.cfg.MaxNeighbours)
	c.mu.Lock()
	c.policies[stream] = p
	var keys []SwarmKey
	for k := range c.swarms {
		if k.Stream == stream {
			keys = append(keys, k)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(keys, func(a, b SwarmKey) int { return cmp.Compare(a.Rendition, b.Rendition) })
	var outs []Out
	for _, k := range keys {
		sw := c.lock(k, false)
		if sw == nil {
			continue
		}
		for _, m := range sw.members {
			outs = append(outs, Out{Swarm: k, To: m.ID, Msg: &p})
		}
		outs = append(outs, c.applyPolicyLocked(now, k, sw, p)...)
		outs = append(outs, c.reseedLocked(k, sw, p.P2PEnabled)...)
		sw.mu.Unlock()
	}
	return outs
}

// applyPolicyLocked brings the links of swarm k in line with p. sw must be locked.
func (c *Core) applyPolicyLocked(now time.Time, k SwarmKey, sw *swarm, p signalling.Policy) []Out {
	st, err := c.store.Swarm(c.ctx, k)
	if err != nil {
		return nil
	}
	var mean int64
	if st.Peers > 0 {
		mean = st.Capacity / int64(st.Peers)
	}
	var outs []Out
	members := slices.Clone(sw.members) // refills below do not change membership, but stay safe
	for _, m := range members {
		limit := peerLimit(m.UploadCapacity, mean, bound(p))
		if err := c.store.SetLimit(c.ctx, k, m.ID, limit); err != nil {
			continue
		}
		nbrs, err := c.store.Neighbours(c.ctx, k, m.ID)
		if err != nil || len(nbrs) <= limit {
			continue
		}
		drop := nbrs[limit:]
		for _, n := range drop {
			if c.store.Unlink(c.ctx, k, m.ID, n) == nil {
				outs = append(outs, Out{Swarm: k, To: n, Msg: &signalling.Neighbours{Remove: []string{m.ID}}})
			}
		}
		outs = append(outs, Out{Swarm: k, To: m.ID, Msg: &signalling.Neighbours{Remove: drop}})
	}
	if !p.P2PEnabled {
		return outs
	}
	for _, m := range members {
		add, more := c.refill(now, k, m.ID)
		outs = append(outs, more...)
		if len(add) > 0 {
			outs = append(outs, Out{Swarm: k, To: m.ID, Msg: &signalling.Neighbours{Add: add}})
		}
	}
	return outs
}

// reseedLocked applies a policy change to seeding: P2P off → nobody seeds (every
// seeder is told Count 0); P2P back on → the seeders are chosen afresh. sw must be
// locked.
func (c *Core) reseedLocked(k SwarmKey, sw *swarm, p2p bool) []Out {
	switch {
	case !p2p && sw.seeds != nil:
		off := make(map[string]signalling.Stripe, len(sw.seeds.seeders))
		for id := range sw.seeds.seeders {
			off[id] = signalling.Stripe{}
		}
		sw.seeds = nil
		return stripeOuts(k, off)
	case p2p && sw.seeds == nil && len(sw.members) > 0:
		sw.seeds = &seeding{}
		return stripeOuts(k, sw.seeds.reset(sw.candidates(), SeedCount(len(sw.members))))
	}
	return nil
}
