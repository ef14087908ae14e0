package swarm

import (
	"errors"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// report handles a bad-piece accusation. A target is banned once reporters at two
// distinct addresses (other than its own, and not muted) that are or were its
// neighbours accuse it.
// Every report counts as a strike against the reporter's address until a ban
// corroborates it; an address with MaxStrikes uncorroborated reports is ignored, so a
// lone liar can neither ban anyone nor keep reporting.
func (c *Core) report(now time.Time, k SwarmKey, from string, m *signalling.Report) []Out {
	if m.Peer == from {
		return errorOut(k, from, signalling.CodeBadMessage, "a peer cannot report itself")
	}
	sw := c.lock(k, false)
	if sw == nil {
		return errorOut(k, from, signalling.CodeNotJoined, "send join first")
	}
	defer sw.mu.Unlock()
	reporter, ok := sw.member(from)
	if !ok {
		return errorOut(k, from, signalling.CodeNotJoined, "send join first")
	}
	addr, ttl := reporter.Addr, c.cfg.StrikeTTL
	strikes, err := c.store.AddStrikes(c.ctx, k, addr, 0, now, ttl)
	if err != nil {
		return errorOut(k, from, signalling.CodeInternal, "report not recorded")
	}
	if strikes >= c.cfg.MaxStrikes {
		c.outcome(k, OutcomeMuted)
		return nil // deliberately silent: a muted liar learns nothing
	}
	target, err := c.store.Peer(c.ctx, k, m.Peer)
	if errors.Is(err, ErrPeerNotFound) {
		c.outcome(k, OutcomeUnknownPeer)
		return errorOut(k, from, signalling.CodeUnknownPeer, fmt.Sprintf("peer %q is not in %s", m.Peer, k))
	} else if err != nil {
		return errorOut(k, from, signalling.CodeInternal, "report not recorded")
	}
	if met, err := c.store.Met(c.ctx, k, from, m.Peer); err != nil || !met {
		c.outcome(k, OutcomeNotNeighbour)
		return errorOut(k, from, signalling.CodeNotNeighbour, fmt.Sprintf("peer %q was never your neighbour", m.Peer))
	}
	reporters, err := c.store.AddReport(c.ctx, k, m.Peer, addr)
	if err != nil {
		return errorOut(k, from, signalling.CodeInternal, "report not recorded")
	}
	// A strike that fails to record only makes this reporter harder to mute.
	_, _ = c.store.AddStrikes(c.ctx, k, addr, 1, now, ttl)
	distinct := 0
	for _, r := range reporters {
		if r.Addr == target.Addr {
			continue
		}
		if r.Addr != addr { // a reporter muted since its report no longer counts
			if n, err := c.store.AddStrikes(c.ctx, k, r.Addr, 0, now, ttl); err != nil || n >= c.cfg.MaxStrikes {
				continue
			}
		}
		distinct++
	}
	if distinct < 2 {
		c.outcome(k, OutcomeAccepted)
		return nil
	}
	c.outcome(k, OutcomeBan)
	for _, r := range reporters { // corroborated: these reports no longer count against anyone
		_, _ = c.store.AddStrikes(c.ctx, k, r.Addr, -r.Count, now, ttl)
	}
	return c.banLocked(now, k, sw, target, "bad pieces reported by several neighbours")
}

func (c *Core) outcome(k SwarmKey, o Outcome) {
	if c.cfg.OnReport != nil {
		c.cfg.OnReport(k, o)
	}
}

// banLocked bans target by id and address for BanDuration and removes it: its
// neighbours are told, then target gets a *Banned with Close set. sw must be locked.
func (c *Core) banLocked(now time.Time, k SwarmKey, sw *swarm, target Peer, reason string) []Out {
	// A ban that fails to record still removes the peer now; it may rejoin.
	_ = c.store.Ban(c.ctx, k, Ban{PeerID: target.ID, Addr: target.Addr, Until: now.Add(c.cfg.BanDuration)})
	if _, ok := sw.member(target.ID); !ok { // a member of another tracker sharing the store
		_, _ = c.store.RemovePeer(c.ctx, k, target.ID, now)
		return nil
	}
	outs, _ := c.leaveLocked(now, k, sw, target.ID)
	return append(outs, Out{Swarm: k, To: target.ID, Msg: &signalling.Banned{Reason: reason}, Close: true})
}
