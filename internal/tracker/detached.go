package tracker

import (
	"context"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

// Viewers of a region whose policy turns P2P off are "detached": they stay connected
// (they get policy changes, and their stats count in /api/streams and the console) but
// are not members of the swarm core, so no peer is ever introduced to them and none
// seeds for them. A region's policy going on again joins them to the core, as if they
// had just arrived, without a second welcome: they get policy, neighbours and stripe.

// extra holds, per swarm, what detached viewers add to the core's figures. Counters
// are signed: a viewer that rejoins the core brings its cumulative counters along,
// which the core counts again, so they are taken back out here.
type extra struct {
	peers int
	cdn   int64
	p2p   int64
	up    int64
	stall int64
}

// addExtra changes the detached figures of swarm k.
func (t *Tracker) addExtra(k SwarmKey, e extra) {
	t.extraMu.Lock()
	defer t.extraMu.Unlock()
	x := t.extra[k]
	x.peers += e.peers
	x.cdn += e.cdn
	x.p2p += e.p2p
	x.up += e.up
	x.stall += e.stall
	if x == (extra{}) {
		delete(t.extra, k)
		return
	}
	t.extra[k] = x
}

func (t *Tracker) extras() map[SwarmKey]extra {
	t.extraMu.Lock()
	defer t.extraMu.Unlock()
	out := make(map[SwarmKey]extra, len(t.extra))
	for k, v := range t.extra {
		out[k] = v
	}
	return out
}

// recordStats keeps the peer's latest stats (for the console) and returns how much each
// counter moved forward; a lower value is ignored, as the core does.
func (c *conn) recordStats(m *Stats) (delta extra, detached bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	fwd := func(last *uint64, v uint64) int64 {
		if v <= *last {
			return 0
		}
		d := int64(v - *last)
		*last = v
		return d
	}
	delta.cdn = fwd(&c.last.BytesCDN, m.BytesCDN)
	delta.p2p = fwd(&c.last.BytesP2P, m.BytesP2P)
	delta.up = fwd(&c.last.BytesUp, m.BytesUp)
	delta.stall = fwd(&c.last.Stalls, m.Stalls)
	c.last.Playhead, c.last.Peers = m.Playhead, m.Peers
	if m.StartupMs > 0 {
		c.last.StartupMs = m.StartupMs
	}
	c.last.StalledMs = max(c.last.StalledMs, m.StalledMs)
	return delta, c.detached
}

func (c *conn) isDetached() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.detached
}

// handleDetached answers a detached viewer's message; false if m is for the core.
func (t *Tracker) handleDetached(c *conn, m Message) bool {
	if st, ok := m.(*Stats); ok {
		d, detached := c.recordStats(st)
		if detached {
			t.addExtra(c.swarm, d)
		}
		return detached
	}
	if !c.isDetached() {
		return false
	}
	switch m.(type) {
	case *Signal, *Report:
		c.fail(CodeNotNeighbour, "P2P is off for your region in "+c.swarm.String()+": you have no neighbours")
		return true
	}
	return false
}

// reconcileRegions detaches the viewers of stream whose region went off and joins
// back those whose region came on, then sends each the policy it now has.
func (t *Tracker) reconcileRegions(stream string) {
	corePolicy := t.core.Policy(stream)
	for k, cs := range t.streamConns(stream) {
		unlock := t.lock(k)
		for _, c := range cs {
			off := t.regionOff(stream, c.peer.Region)
			switch detached := c.isDetached(); {
			case off && !detached:
				t.detachFromCore(c)
			case !off && detached:
				t.attachToCore(c)
				continue // attachToCore sent the policy
			}
			p, _ := t.regionPolicy(stream, c.peer.Region, corePolicy)
			c.send(&p)
		}
		unlock()
	}
}

// detachFromCore takes a joined viewer out of the core; the swarm lock must be held.
func (t *Tracker) detachFromCore(c *conn) {
	outs, err := t.core.Leave(t.now(), c.swarm, c.peer.ID)
	if err != nil {
		t.log.Warn("tracker: detach peer", "swarm", c.swarm, "peer", c.peer.ID, "err", err)
	}
	c.qmu.Lock()
	c.detached = true
	c.qmu.Unlock()
	t.addExtra(c.swarm, extra{peers: 1})
	t.deliver(outs)
}

// attachToCore joins a detached viewer to the core; it stays detached if the core
// refuses it (banned address, too many swarms). The swarm lock must be held.
func (t *Tracker) attachToCore(c *conn) {
	now := t.now()
	w, outs, err := t.core.Join(now, c.swarm, c.peer)
	if err != nil {
		t.log.Info("tracker: peer stays CDN-only", "swarm", c.swarm, "peer", c.peer.ID, "err", err)
		return
	}
	c.qmu.Lock()
	c.detached = false
	last := c.last
	c.qmu.Unlock()
	// The core counts the viewer's cumulative counters from zero again.
	t.deliver(t.core.Handle(now, c.swarm, c.peer.ID, &Stats{BytesCDN: last.BytesCDN, BytesP2P: last.BytesP2P, BytesUp: last.BytesUp, Stalls: last.Stalls}))
	t.addExtra(c.swarm, extra{peers: -1, cdn: -int64(last.BytesCDN), p2p: -int64(last.BytesP2P), up: -int64(last.BytesUp), stall: -int64(last.Stalls)})
	t.deliver(outs)
	p, _ := t.regionPolicy(c.swarm.Stream, c.peer.Region, w.Policy)
	c.send(&p)
	if len(w.Neighbours) > 0 {
		c.send(&Neighbours{Add: w.Neighbours})
	}
	if w.Stripe.Count > 0 {
		st := w.Stripe
		c.send(&st)
	}
}

// joinDetached welcomes a viewer of a region with P2P off without making it a member
// of the core. Bans still apply. The swarm lock must be held.
func (t *Tracker) joinDetached(c *conn, s SwarmKey, p Peer) (Welcome, error) {
	banned, err := t.shared.Banned(context.Background(), s, "", p.Addr, t.now())
	switch {
	case err != nil:
		return Welcome{}, err
	case banned:
		return Welcome{}, swarm.ErrBanned
	}
	c.qmu.Lock()
	c.detached = true
	c.qmu.Unlock()
	t.addExtra(s, extra{peers: 1})
	pol, _ := t.regionPolicy(s.Stream, p.Region, t.core.Policy(s.Stream))
	return Welcome{PeerID: p.ID, Policy: pol, Neighbours: []Neighbour{}}, nil
}

// collectExtras forgets the detached figures of swarms with no detached viewer left
// that the core has collected too, so /api/streams drops them as it drops the others.
func (t *Tracker) collectExtras(ctx context.Context) {
	all, err := t.shared.Swarms(ctx)
	if err != nil {
		return
	}
	known := make(map[SwarmKey]bool, len(all))
	for _, s := range all {
		known[s.Swarm] = true
	}
	t.extraMu.Lock()
	defer t.extraMu.Unlock()
	for k, e := range t.extra {
		if e.peers == 0 && !known[k] {
			delete(t.extra, k)
		}
	}
}
