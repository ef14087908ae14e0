package swarm

import (
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Handle acts on one message from member from of swarm k at now: *Signal (relayed to
// the addressee only if the core introduced the two), *Stats or *Report. Refusals come
// back as an *Error to from. Join and Leave have their own methods; other messages
// are ignored.
func (c *Core) Handle(now time.Time, k SwarmKey, from string, m signalling.Message) []Out {
	switch m := m.(type) {
	case *signalling.Signal:
		return c.relay(k, from, m)
	case *signalling.Stats:
		return c.stats(now, k, from, m)
	case *signalling.Report:
		return c.report(now, k, from, m)
	}
	return nil
}

// isMember reports whether id is a member of swarm k in this core.
func (c *Core) isMember(k SwarmKey, id string) bool {
	sw := c.lock(k, false)
	if sw == nil {
		return false
	}
	defer sw.mu.Unlock()
	_, ok := sw.index[id]
	return ok
}

func (c *Core) relay(k SwarmKey, from string, m *signalling.Signal) []Out {
	ok, err := c.store.Linked(c.ctx, k, from, m.To)
	if err != nil {
		return errorOut(k, from, signalling.CodeInternal, "neighbour lookup failed")
	}
	if !ok {
		return errorOut(k, from, signalling.CodeNotNeighbour, fmt.Sprintf("peer %q is not your neighbour in %s", m.To, k))
	}
	if !c.isMember(k, m.To) {
		return errorOut(k, from, signalling.CodeUnknownPeer, fmt.Sprintf("peer %q is not connected", m.To))
	}
	return []Out{{Swarm: k, To: m.To, Msg: &signalling.Signal{From: from, Data: m.Data}}}
}

func (c *Core) stats(now time.Time, k SwarmKey, from string, m *signalling.Stats) []Out {
	_, err := c.store.UpdateStats(c.ctx, k, from, Counters{
		BytesCDN: m.BytesCDN, BytesP2P: m.BytesP2P, BytesUp: m.BytesUp, Stalls: m.Stalls,
	})
	if err != nil {
		return errorOut(k, from, signalling.CodeInternal, "stats not recorded")
	}
	sw := c.lock(k, false)
	if sw == nil {
		return nil
	}
	defer sw.mu.Unlock()
	outs := c.showUpload(now, k, sw, from, m.BytesUp)
	// A member below its join target (it joined when few peers took links, or lost
	// neighbours that had no replacement then) is topped up: with linkRamp a burst of
	// joiners finds fewer open slots than it wants, and the stats every 2 s are what
	// comes back to the tracker from every member.
	if add, more := c.refill(now, k, from); len(add) > 0 {
		outs = append(outs, more...)
		outs = append(outs, Out{Swarm: k, To: from, Msg: &signalling.Neighbours{Add: add}})
	}
	if m.Position != nil {
		outs = append(outs, c.reposition(now, k, from, *m.Position)...)
	}
	return outs
}
