package tracker

import (
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/token"
)

// handle acts on one decoded client message; false means the connection is closing.
func (t *Tracker) handle(c *conn, m Message) bool {
	if j, ok := m.(*Join); ok {
		if c.peer.ID != "" {
			c.fail(CodeJoined, "this connection already joined "+c.swarm.String())
			return true
		}
		return t.join(c, j)
	}
	if c.peer.ID == "" {
		c.fail(CodeNotJoined, "send join first")
		return true
	}
	if t.handleDetached(c, m) {
		return true
	}
	switch m := m.(type) {
	case *Signal:
		// No swarm lock: relays change no membership, so their order against
		// other events does not matter.
		t.handleMessage(c, m)
	case *Stats:
		// Under the swarm lock: stats can demote a seeder that shows no upload
		// (swarm/shown.go), a stripe change that must not overtake others.
		unlock := t.lock(c.swarm)
		t.handleMessage(c, m)
		unlock()
	case *Report:
		t.log.Debug("tracker: report", "swarm", c.swarm, "reporter", c.peer.ID, "target", m.Peer,
			"segment", m.Segment, "piece", m.Piece, "reason", m.Reason)
		unlock := t.lock(c.swarm)
		t.handleMessage(c, m)
		unlock()
	case *Leave:
		unlock := t.lock(c.swarm)
		t.removeLocked(c)
		unlock()
		c.closeAfter(nil, websocket.StatusNormalClosure, "left")
		return false
	}
	return true
}

func (t *Tracker) join(c *conn, j *Join) bool {
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

	// Real time, not t.now(): the join rate is about the network, like timeouts.
	if c.ip.IsValid() {
		if err := t.limits.Join(c.ip, time.Now()); err != nil {
			t.m.errors.WithLabelValues(CodeAddrLimit).Inc()
			c.closeAfter(&Error{Code: CodeAddrLimit, Message: err.Error()}, websocket.StatusTryAgainLater, CodeAddrLimit)
			return false
		}
	}
	if t.takenDown(j.Stream) {
		t.m.errors.WithLabelValues(CodeUnauthorized).Inc()
		c.closeAfter(&Error{Code: CodeUnauthorized, Message: "stream " + j.Stream + " was taken down by the operator"},
			websocket.StatusPolicyViolation, "taken down")
		return false
	}
	unlock := t.lock(s)
	defer unlock()
	p := Peer{ID: newPeerID(), Addr: c.addr, Region: c.joinRegion(j.Region), UploadCapacity: j.UploadCapacity}
	if j.Position != nil {
		p.Pos, p.PosAt = *j.Position, now
	}
	var welcome Welcome
	var outs []swarm.Out
	var err error
	if t.regionOff(s.Stream, p.Region) {
		welcome, err = t.joinDetached(c, s, p)
	} else {
		welcome, outs, err = t.coreJoin(now, s, p)
		welcome.Policy, _ = t.regionPolicy(s.Stream, p.Region, welcome.Policy)
	}
	switch {
	case errors.Is(err, swarm.ErrBanned):
		c.closeAfter(&Banned{Reason: "this address is banned from " + s.String()}, websocket.StatusPolicyViolation, "banned")
		return false
	case errors.Is(err, swarm.ErrFull):
		t.m.errors.WithLabelValues(CodeFull).Inc()
		c.closeAfter(&Error{Code: CodeFull, Message: "tracker holds its maximum number of swarms"},
			websocket.StatusTryAgainLater, CodeFull)
		return false
	case err != nil:
		t.log.Warn("tracker: join", "swarm", s, "err", err)
		c.fail(CodeInternal, "join not recorded")
		return true
	}
	c.swarm, c.peer = s, p
	c.joined.Store(true)
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
	t.deliver(outs)
	welcome.Trackers, welcome.Edges = t.cfg.WelcomeTrackers, t.cfg.WelcomeEdges
	c.send(&welcome)
	t.log.Debug("tracker: join", "swarm", s, "peer", p.ID, "addr", c.addr, "neighbours", len(welcome.Neighbours))
	return true
}

// handleMessage has the swarm's owner act on a signal, stats or report: this
// tracker's core, or the cluster's owner node.
func (t *Tracker) handleMessage(c *conn, m Message) {
	if t.cfg.Cluster != nil {
		t.cfg.Cluster.Handle(t.now(), c.swarm, c.peer.ID, m)
		return
	}
	t.deliver(t.core.Handle(t.now(), c.swarm, c.peer.ID, m))
}

// coreJoin admits p through the swarm's owner; with a cluster the owner has already
// sent the other members' messages.
func (t *Tracker) coreJoin(now time.Time, s SwarmKey, p Peer) (Welcome, []swarm.Out, error) {
	if t.cfg.Cluster != nil {
		w, err := t.cfg.Cluster.Join(now, s, p)
		return w, nil, err
	}
	return t.core.Join(now, s, p)
}
