package swarm

import (
	"cmp"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Restoring a swarm on a new owner (internal/cluster). A tracker cluster gives each
// swarm one owner whose Core decides for it; when the owner dies or the swarm moves,
// the new owner has no state, but every tracker still holds the connections of its own
// members and knows what it last told them: their neighbours and their stripe. Restore
// re-admits those members as they are, so WebRTC links and seeders survive the move;
// Settle, once every tracker had time to restore, tells the peers whose neighbours did
// not come back (they were on the dead tracker) and gives them replacements, and moves
// the stripes of seeders that are gone.

// Restored is one member as its tracker last saw it.
type Restored struct {
	Peer       Peer              // Limit and Joined as the first owner set them
	Neighbours []string          // the ids it was last told are its neighbours
	Stripe     signalling.Stripe // its seeding assignment; zero if it does not seed
}

// Restore re-admits peers into swarm k without messages: members already present are
// left alone; a link is made when both ends claim it (or the store already has it).
// Stripes are taken over as claimed, so seeders keep seeding. Call Settle afterwards.
func (c *Core) Restore(now time.Time, k SwarmKey, peers []Restored) error {
	sw := c.lock(k, true)
	defer sw.mu.Unlock()
	if sw.claims == nil {
		sw.claims = make(map[string][]string)
	}
	var added []Restored
	for _, r := range peers {
		if _, ok := sw.member(r.Peer.ID); ok || r.Peer.ID == "" {
			continue
		}
		p := r.Peer
		p.Degree = 0
		if err := c.store.AddPeer(c.ctx, k, p); err != nil {
			c.dropIfEmpty(k, sw)
			return err
		}
		sw.add(p)
		sw.claims[p.ID] = slices.Clone(r.Neighbours)
		added = append(added, r)
	}
	for _, r := range added {
		for _, n := range r.Neighbours {
			if _, ok := sw.member(n); !ok || n == r.Peer.ID {
				continue
			}
			if slices.Contains(sw.claims[n], r.Peer.ID) {
				_ = c.store.Link(c.ctx, k, r.Peer.ID, n) // a failed link is dropped at Settle
			}
		}
	}
	if !c.Policy(k.Stream).P2PEnabled || len(added) == 0 {
		return nil
	}
	if sw.seeds == nil {
		sw.seeds = &seeding{seeders: make(map[string]seat)}
	}
	for _, r := range added {
		if r.Stripe.Count > 0 {
			sw.seeds.seeders[r.Peer.ID] = seat{Stripe: r.Stripe}
		}
	}
	sw.seeds.target = 0 // the next change re-ranks everyone, keeping these stripes where it can
	return nil
}

// Settle finishes the restores of swarm k: a restored peer is told which claimed
// neighbours are not linked (gone with their tracker) and given replacements, and the
// stripes are re-ranked over the members, stayers keeping their index.
func (c *Core) Settle(now time.Time, k SwarmKey) []Out {
	sw := c.lock(k, false)
	if sw == nil {
		return nil
	}
	defer sw.mu.Unlock()
	ids := make([]string, 0, len(sw.claims))
	for id := range sw.claims {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	var outs []Out
	for _, id := range ids {
		if _, ok := sw.member(id); !ok {
			continue
		}
		var gone []string
		for _, n := range sw.claims[id] {
			if ok, err := c.store.Linked(c.ctx, k, id, n); err == nil && !ok {
				gone = append(gone, n)
			}
		}
		if len(gone) == 0 {
			continue
		}
		add, more := c.refill(now, k, id)
		outs = append(outs, more...)
		outs = append(outs, Out{Swarm: k, To: id, Msg: &signalling.Neighbours{Add: add, Remove: gone}})
	}
	sw.claims = nil
	if sw.seeds != nil && len(sw.members) > 0 {
		outs = append(outs, stripeOuts(k, sw.seeds.reset(sw.candidates(), SeedCount(len(sw.members))))...)
	}
	return outs
}

// Forget drops swarm k from this core without telling anyone: another owner took it.
// The store keeps the swarm's totals until Collect.
func (c *Core) Forget(now time.Time, k SwarmKey) {
	sw := c.lock(k, false)
	if sw == nil {
		return
	}
	defer sw.mu.Unlock()
	for _, m := range sw.members {
		_, _ = c.store.RemovePeer(c.ctx, k, m.ID, now)
	}
	sw.members, sw.index, sw.seeds, sw.claims = nil, make(map[string]int), nil, nil
	c.dropIfEmpty(k, sw)
}

// MemberIDs returns the ids of swarm k's members in this core, sorted.
func (c *Core) MemberIDs(k SwarmKey) []string {
	sw := c.lock(k, false)
	if sw == nil {
		return nil
	}
	defer sw.mu.Unlock()
	out := make([]string, len(sw.members))
	for i, m := range sw.members {
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}
