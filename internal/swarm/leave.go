package swarm

import (
	"errors"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Leave takes peer id out of swarm k at now: its stripe moves to another seeder and
// each of its neighbours is told, with replacements. Leaving twice, or a peer that
// never joined, is a no-op. On a Store error the returned messages are still valid.
func (c *Core) Leave(now time.Time, k SwarmKey, id string) ([]Out, error) {
	sw := c.lock(k, false)
	if sw == nil {
		return nil, nil
	}
	defer sw.mu.Unlock()
	return c.leaveLocked(now, k, sw, id)
}

// leaveLocked is Leave with sw locked.
func (c *Core) leaveLocked(now time.Time, k SwarmKey, sw *swarm, id string) ([]Out, error) {
	if !sw.remove(id) {
		return nil, nil
	}
	delete(sw.watch, id)
	var outs []Out
	if sw.seeds != nil && len(sw.members) > 0 {
		changed := sw.seeds.left(id, len(sw.members), sw.candidates)
		c.watchSeats(now, sw, changed)
		outs = stripeOuts(k, changed)
	}
	c.dropIfEmpty(k, sw)
	nbrs, err := c.store.RemovePeer(c.ctx, k, id, now)
	if err != nil && !errors.Is(err, ErrPeerNotFound) {
		return outs, fmt.Errorf("swarm: remove peer: %w", err)
	}
	for _, n := range nbrs {
		add, more := c.refill(now, k, n)
		outs = append(outs, more...)
		outs = append(outs, Out{Swarm: k, To: n, Msg: &signalling.Neighbours{Add: add, Remove: []string{id}}})
	}
	return outs, nil
}
