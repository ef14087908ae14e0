package tracker

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/token"
)

// handle acts on one decoded client message; false means the connection is closing.
func (t *Tracker) handle(ctx context.Context, c *conn, m Message) bool {
	if j, ok := m.(*Join); ok {
		if c.peer.ID != "" {
			c.fail(CodeJoined, "this connection already joined "+c.swarm.String())
			return true
		}
		return t.join(ctx, c, j)
	}
	if c.peer.ID == "" {
		c.fail(CodeNotJoined, "send join first")
		return true
	}
	switch m := m.(type) {
	case *Signal:
		t.relay(ctx, c, m)
	case *Stats:
		_, err := t.store.UpdateStats(ctx, c.swarm, c.peer.ID, Counters{
			BytesCDN: m.BytesCDN, BytesP2P: m.BytesP2P, BytesUp: m.BytesUp, Stalls: m.Stalls,
		})
		if err != nil {
			c.fail(CodeInternal, "stats not recorded")
		}
	case *Report:
		t.report(ctx, c, m)
	case *Leave:
		unlock := t.lock(c.swarm)
		t.removeLocked(ctx, c)
		unlock()
		c.closeAfter(nil, websocket.StatusNormalClosure, "left")
		return false
	}
	return true
}

func (t *Tracker) join(ctx context.Context, c *conn, j *Join) bool {
	now := t.now()
	s := SwarmKey{Stream: j.Stream, Rendition: j.Rendition}
	if secret := t.cfg.PlaySecret; len(secret) > 0 {
		tok := j.Token
		if tok == "" {
			tok = c.reqToken
		}
		if err := token.Verify(secret, j.Stream, tok, now); err != nil {
			t.m.errors.WithLabelValues(CodeUnauthorized).Inc()
			c.closeAfter(&Error{Code: CodeUnauthorized, Message: fmt.Sprintf("viewer token for stream %q: %v", j.Stream, err)},
				websocket.StatusPolicyViolation, CodeUnauthorized)
			return false
		}
	}
	if banned, err := t.store.Banned(ctx, s, "", c.addr, now); err != nil {
		c.fail(CodeInternal, "ban list unavailable")
		return true
	} else if banned {
		c.closeAfter(&Banned{Reason: "this address is banned from " + s.String()}, websocket.StatusPolicyViolation, "banned")
		return false
	}
	t.mu.RLock()
	_, exists := t.conns[s]
	full := !exists && len(t.conns) >= t.cfg.MaxSwarms
	t.mu.RUnlock()
	if full {
		t.m.errors.WithLabelValues(CodeFull).Inc()
		c.closeAfter(&Error{Code: CodeFull, Message: "tracker holds its maximum number of swarms"},
			websocket.StatusTryAgainLater, CodeFull)
		return false
	}

	unlock := t.lock(s)
	defer unlock()
	pol := t.policy(j.Stream) // under the lock: SetPolicy changes a swarm under it
	st, err := t.store.Swarm(ctx, s)
	if err != nil {
		c.fail(CodeInternal, "swarm unavailable")
		return true
	}
	bound := pol.Neighbours
	if !pol.P2PEnabled {
		bound = 0
	}
	mean := (st.Capacity + j.UploadCapacity) / int64(st.Peers+1)
	p := Peer{
		ID:             newPeerID(),
		Addr:           c.addr,
		Region:         j.Region,
		UploadCapacity: j.UploadCapacity,
		Limit:          peerLimit(j.UploadCapacity, mean, bound),
		Joined:         now,
	}
	if err := t.store.AddPeer(ctx, s, p); err != nil {
		c.fail(CodeInternal, "join not recorded")
		return true
	}
	c.swarm, c.peer = s, p
	t.mu.Lock()
	if t.conns[s] == nil {
		t.conns[s] = make(map[string]*conn)
	}
	t.conns[s][p.ID] = c
	t.count(s.Stream, +1)
	t.mu.Unlock()
	t.m.joins.Inc()
	// Neighbours hear about the newcomer before its welcome is even queued, so its
	// offers can never overtake their "add".
	nbrs := t.linkLocked(ctx, s, p, nil, joinTarget(p.Limit))
	if nbrs == nil {
		nbrs = []Neighbour{} // "neighbours": [] on the wire, never null
	}
	stripe := t.seedJoinLocked(s, p, pol.P2PEnabled)
	c.send(&Welcome{PeerID: p.ID, Policy: pol, Neighbours: nbrs, Stripe: stripe})
	t.log.Debug("tracker: join", "swarm", s, "peer", p.ID, "addr", c.addr, "neighbours", len(nbrs))
	return true
}

func (t *Tracker) relay(ctx context.Context, c *conn, m *Signal) {
	ok, err := t.store.Linked(ctx, c.swarm, c.peer.ID, m.To)
	if err != nil {
		c.fail(CodeInternal, "neighbour lookup failed")
		return
	}
	if !ok {
		c.fail(CodeNotNeighbour, fmt.Sprintf("peer %q is not your neighbour in %s", m.To, c.swarm))
		return
	}
	to := t.conn(c.swarm, m.To)
	if to == nil {
		c.fail(CodeUnknownPeer, fmt.Sprintf("peer %q is not connected", m.To))
		return
	}
	to.send(&Signal{From: c.peer.ID, Data: m.Data})
	t.m.relayed.Inc()
}

// Report outcomes (shoal_tracker_reports_total{outcome}).
const (
	outcomeAccepted     = "accepted"
	outcomeBan          = "ban"
	outcomeMuted        = "muted"
	outcomeNotNeighbour = "not_neighbour"
	outcomeUnknownPeer  = "unknown_peer"
)

// report handles a bad-piece accusation. A target is banned once reporters at two
// distinct addresses (other than its own, and not muted) that are or were its
// neighbours accuse it.
// Every report counts as a strike against the reporter's address until a ban
// corroborates it; an address with MaxStrikes uncorroborated reports is ignored, so a
// lone liar can neither ban anyone nor keep reporting.
func (t *Tracker) report(ctx context.Context, c *conn, m *Report) {
	s, now := c.swarm, t.now()
	if m.Peer == c.peer.ID {
		c.fail(CodeBadMessage, "a peer cannot report itself")
		return
	}
	strikes, err := t.store.AddStrikes(ctx, s, c.addr, 0, now, t.cfg.StrikeTTL)
	if err != nil {
		c.fail(CodeInternal, "report not recorded")
		return
	}
	if strikes >= t.cfg.MaxStrikes {
		t.m.reports.WithLabelValues(outcomeMuted).Inc()
		return // deliberately silent: a muted liar learns nothing
	}
	unlock := t.lock(s)
	defer unlock()
	target, err := t.store.Peer(ctx, s, m.Peer)
	if errors.Is(err, ErrPeerNotFound) {
		t.m.reports.WithLabelValues(outcomeUnknownPeer).Inc()
		c.fail(CodeUnknownPeer, fmt.Sprintf("peer %q is not in %s", m.Peer, s))
		return
	} else if err != nil {
		c.fail(CodeInternal, "report not recorded")
		return
	}
	if met, err := t.store.Met(ctx, s, c.peer.ID, m.Peer); err != nil || !met {
		t.m.reports.WithLabelValues(outcomeNotNeighbour).Inc()
		c.fail(CodeNotNeighbour, fmt.Sprintf("peer %q was never your neighbour", m.Peer))
		return
	}
	reporters, err := t.store.AddReport(ctx, s, m.Peer, c.addr)
	if err != nil {
		c.fail(CodeInternal, "report not recorded")
		return
	}
	if _, err := t.store.AddStrikes(ctx, s, c.addr, 1, now, t.cfg.StrikeTTL); err != nil {
		t.log.Warn("tracker: strike", "err", err)
	}
	distinct := 0
	for _, r := range reporters {
		if r.Addr == target.Addr {
			continue
		}
		if r.Addr != c.addr { // a reporter muted since its report no longer counts
			if n, err := t.store.AddStrikes(ctx, s, r.Addr, 0, now, t.cfg.StrikeTTL); err != nil || n >= t.cfg.MaxStrikes {
				continue
			}
		}
		distinct++
	}
	t.log.Debug("tracker: report", "swarm", s, "reporter", c.peer.ID, "target", m.Peer,
		"segment", m.Segment, "piece", m.Piece, "reason", m.Reason, "reporters", distinct)
	if distinct < 2 {
		t.m.reports.WithLabelValues(outcomeAccepted).Inc()
		return
	}
	t.m.reports.WithLabelValues(outcomeBan).Inc()
	for _, r := range reporters { // corroborated: these reports no longer count against anyone
		if _, err := t.store.AddStrikes(ctx, s, r.Addr, -r.Count, now, t.cfg.StrikeTTL); err != nil {
			t.log.Warn("tracker: strike", "err", err)
		}
	}
	t.banLocked(ctx, s, target, "bad pieces reported by several neighbours")
}

// banLocked bans target by id and address and disconnects it. The swarm lock must be held.
func (t *Tracker) banLocked(ctx context.Context, s SwarmKey, target Peer, reason string) {
	if err := t.store.Ban(ctx, s, Ban{PeerID: target.ID, Addr: target.Addr, Until: t.now().Add(t.cfg.BanDuration)}); err != nil {
		t.log.Warn("tracker: ban", "err", err)
	}
	t.m.bans.Inc()
	t.log.Info("tracker: banned peer", "swarm", s, "peer", target.ID, "addr", target.Addr)
	if tc := t.conn(s, target.ID); tc != nil {
		t.removeLocked(ctx, tc)
		tc.closeAfter(&Banned{Reason: reason}, websocket.StatusPolicyViolation, "banned")
		return
	}
	if _, err := t.store.RemovePeer(ctx, s, target.ID, t.now()); err != nil && !errors.Is(err, ErrPeerNotFound) {
		t.log.Warn("tracker: remove banned peer", "err", err)
	}
}
