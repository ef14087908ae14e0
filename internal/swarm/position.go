package swarm

import (
	"math"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// repositionJump: a title's viewer whose stats put it this far from where the clock
// had it (a seek, not drift) gets neighbours near its new position.
const repositionJump = 30.0

// nearTiers: position tiers below it count as near (within 60 s, behind counting
// double); the rest are as good as anyone.
const nearTiers = positionTiers - 2

// reposition records that peer id of swarm k plays pos seconds into its title at now
// and, after a jump, links it to open peers near pos in place of far neighbours:
// neighbours it gains beyond its limit's room displace far ones. The swarm must be
// locked.
func (c *Core) reposition(now time.Time, k SwarmKey, id string, pos float64) []Out {
	p, err := c.store.Peer(c.ctx, k, id)
	if err != nil {
		return nil
	}
	was, had := p.Pos+now.Sub(p.PosAt).Seconds(), !p.PosAt.IsZero()
	if c.store.SetPosition(c.ctx, k, id, pos, now) != nil {
		return nil
	}
	p.Pos, p.PosAt = pos, now
	if (had && math.Abs(pos-was) < repositionJump) || !c.Policy(k.Stream).P2PEnabled {
		return nil
	}
	current, err := c.store.Neighbours(c.ctx, k, id)
	if err != nil {
		return nil
	}
	skip := make(map[string]bool, len(current))
	var far []string
	for _, n := range current {
		skip[n] = true
		if q, err := c.store.Peer(c.ctx, k, n); err == nil && positionTier(p, q) >= nearTiers {
			far = append(far, n)
		}
	}
	cands, err := c.store.OpenPeers(c.ctx, k, c.uint64(), max(64, 8*joinTarget(p.Limit)))
	if err != nil {
		return nil
	}
	c.rmu.Lock()
	chosen := choose(p, cands, skip, joinTarget(p.Limit), c.rnd, now)
	c.rmu.Unlock()
	var near []Peer
	for _, q := range chosen {
		if positionTier(p, q) < nearTiers {
			near = append(near, q)
		}
	}
	room := max(0, p.Limit-p.Degree)
	near = near[:min(len(near), room+len(far))]
	var outs []Out
	drop := far[:max(0, len(near)-room)]
	for _, n := range drop {
		if c.store.Unlink(c.ctx, k, id, n) == nil {
			outs = append(outs, Out{Swarm: k, To: n, Msg: &signalling.Neighbours{Remove: []string{id}}})
		}
	}
	if len(drop) > 0 {
		outs = append(outs, Out{Swarm: k, To: id, Msg: &signalling.Neighbours{Remove: drop}})
	}
	add, more := c.linkChosen(k, p, near)
	outs = append(outs, more...)
	if len(add) > 0 {
		outs = append(outs, Out{Swarm: k, To: id, Msg: &signalling.Neighbours{Add: add}})
	}
	for _, n := range drop { // a dropped neighbour refills as after a leave
		add, more := c.refill(now, k, n)
		outs = append(outs, more...)
		if len(add) > 0 {
			outs = append(outs, Out{Swarm: k, To: n, Msg: &signalling.Neighbours{Add: add}})
		}
	}
	return outs
}
