package swarm

import (
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Join admits p into swarm k at now. The caller chose p.ID and vouches for p.Addr and
// p.Region, and sets p.Pos and p.PosAt from the join's position; Join sets Limit and
// Joined. It returns p's welcome and the messages for
// the other members (their new neighbour, stripe changes), which should be delivered
// before the welcome so that p's offers cannot overtake its neighbours' "add".
// ErrBanned, ErrFull or a Store error refuse the join.
func (c *Core) Join(now time.Time, k SwarmKey, p Peer) (signalling.Welcome, []Out, error) {
	if banned, err := c.store.Banned(c.ctx, k, "", p.Addr, now); err != nil {
		return signalling.Welcome{}, nil, fmt.Errorf("swarm: ban list: %w", err)
	} else if banned {
		return signalling.Welcome{}, nil, ErrBanned
	}
	c.mu.Lock()
	_, exists := c.swarms[k]
	full := !exists && len(c.swarms) >= c.cfg.MaxSwarms
	c.mu.Unlock()
	if full {
		return signalling.Welcome{}, nil, ErrFull
	}

	sw := c.lock(k, true)
	defer sw.mu.Unlock()
	pol := c.Policy(k.Stream) // under the swarm lock: SetPolicy changes a swarm under it
	st, err := c.store.Swarm(c.ctx, k)
	if err != nil {
		c.dropIfEmpty(k, sw)
		return signalling.Welcome{}, nil, fmt.Errorf("swarm: %w", err)
	}
	mean := (st.Capacity + p.UploadCapacity) / int64(st.Peers+1)
	p.Limit = peerLimit(p.UploadCapacity, mean, bound(pol))
	p.Joined, p.Degree = now, 0
	if err := c.store.AddPeer(c.ctx, k, p); err != nil {
		c.dropIfEmpty(k, sw)
		return signalling.Welcome{}, nil, fmt.Errorf("swarm: add peer: %w", err)
	}
	sw.add(p)
	nbrs, outs := c.link(now, k, p, nil, joinTarget(p.Limit))
	if nbrs == nil {
		nbrs = []signalling.Neighbour{} // "neighbours": [] on the wire, never null
	}
	var stripe signalling.Stripe
	if pol.P2PEnabled {
		if sw.seeds == nil {
			sw.seeds = &seeding{}
		}
		changed := sw.seeds.joined(Candidate{ID: p.ID, Upload: float64(p.UploadCapacity)}, len(sw.members), sw.candidates)
		stripe = changed[p.ID]
		c.watchSeats(now, sw, changed)
		delete(changed, p.ID)
		outs = append(outs, stripeOuts(k, changed)...)
	}
	return signalling.Welcome{PeerID: p.ID, Policy: pol, Neighbours: nbrs, Stripe: stripe}, outs, nil
}

// bound is the neighbour bound pol allows: none while P2P is off.
func bound(pol signalling.Policy) int {
	if !pol.P2PEnabled {
		return 0
	}
	return pol.Neighbours
}

// link chooses up to want new neighbours for p among the open peers that take a link
// at now, links them and returns p's side of the new links and the "add" for each new
// neighbour.
func (c *Core) link(now time.Time, k SwarmKey, p Peer, skip map[string]bool, want int) ([]signalling.Neighbour, []Out) {
	if want <= 0 {
		return nil, nil
	}
	cands, err := c.store.OpenPeers(c.ctx, k, c.uint64(), max(64, 8*want))
	if err != nil {
		return nil, nil // no neighbours now; refills and later joiners make up for it
	}
	c.rmu.Lock()
	chosen := choose(p, cands, skip, want, c.rnd, now)
	c.rmu.Unlock()
	return c.linkChosen(k, p, chosen)
}

// linkChosen links p to each of chosen and returns p's side of the new links and
// the "add" for each new neighbour.
func (c *Core) linkChosen(k SwarmKey, p Peer, chosen []Peer) ([]signalling.Neighbour, []Out) {
	nbrs := make([]signalling.Neighbour, 0, len(chosen))
	var outs []Out
	for _, ch := range chosen {
		if err := c.store.Link(c.ctx, k, p.ID, ch.ID); err != nil {
			continue
		}
		nbrs = append(nbrs, signalling.Neighbour{PeerID: ch.ID, Initiator: initiates(p, ch)})
		outs = append(outs, Out{Swarm: k, To: ch.ID, Msg: &signalling.Neighbours{
			Add: []signalling.Neighbour{{PeerID: p.ID, Initiator: initiates(ch, p)}},
		}})
	}
	return nbrs, outs
}

// refill links peer id to new neighbours up to its join target and returns them, with
// the "add" for each new neighbour.
func (c *Core) refill(now time.Time, k SwarmKey, id string) ([]signalling.Neighbour, []Out) {
	if !c.Policy(k.Stream).P2PEnabled {
		return nil, nil
	}
	p, err := c.store.Peer(c.ctx, k, id)
	if err != nil {
		return nil, nil
	}
	want := joinTarget(p.Limit) - p.Degree
	if want <= 0 {
		return nil, nil
	}
	current, err := c.store.Neighbours(c.ctx, k, id)
	if err != nil {
		return nil, nil
	}
	skip := make(map[string]bool, len(current))
	for _, n := range current {
		skip[n] = true
	}
	return c.link(now, k, p, skip, want)
}
