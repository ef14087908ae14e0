package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// onRequest decodes a request for a swarm this node owns and queues it on the
// swarm's shard (shard.go), which runs it in arrival order.
func (n *Node) onRequest(msg *nats.Msg) {
	var r clusterwire.Request
	if err := clusterwire.Decode(msg.Data, &r); err != nil {
		n.m.failures.WithLabelValues("decode").Inc()
		n.log.Warn("cluster: bad request", "err", err)
		if msg.Reply != "" {
			respond(msg, &clusterwire.JoinReply{Error: clusterwire.JoinInternal})
		}
		return
	}
	sh := n.shardOf(swarm.SwarmKey{Stream: r.Stream, Rendition: r.Rendition})
	select {
	case sh.reqs <- ownerReq{r: &r, msg: msg, at: time.Now()}:
	case <-n.stop:
	}
}

// runRequestLocked runs a request on this node's core as the swarm's owner and
// hands the resulting messages to rt for the nodes holding their addressees. sh.mu
// must be held.
func (n *Node) runRequestLocked(sh *ownerShard, q ownerReq, rt *router) {
	r, msg := q.r, q.msg
	k := swarm.SwarmKey{Stream: r.Stream, Rendition: r.Rendition}
	now := time.Now()
	switch r.Op {
	case clusterwire.OpWTAnnounce, clusterwire.OpWTClose, clusterwire.OpWTScrape:
		n.runWTLocked(now, r, rt)
	case clusterwire.OpJoin:
		p := fromWire(*r.Peer)
		w, outs, err := n.core.Join(now, k, p)
		var rep clusterwire.JoinReply
		switch {
		case errors.Is(err, swarm.ErrBanned):
			rep.Error = clusterwire.JoinBanned
		case errors.Is(err, swarm.ErrFull):
			rep.Error = clusterwire.JoinFull
		case err != nil:
			n.log.Warn("cluster: join", "swarm", k, "err", err)
			rep.Error = clusterwire.JoinInternal
		default:
			n.ownedLocked(sh, k).where[p.ID] = r.Node
			if rec, err := n.core.Store().Peer(context.Background(), k, p.ID); err == nil {
				p = rec
			}
			wp := toWire(p)
			rep.Welcome, rep.Peer = &w, &wp
			rt.add(outs)
		}
		respond(msg, &rep)
	case clusterwire.OpLeave:
		outs, err := n.core.Leave(now, k, r.From)
		if err != nil {
			n.log.Warn("cluster: leave", "swarm", k, "peer", r.From, "err", err)
		}
		if os := sh.owned[k]; os != nil {
			rt.add(outs)
			delete(os.where, r.From)
			n.cleanLocked(sh, k, os)
		}
	case clusterwire.OpMessage:
		m, err := signalling.DecodeClient(r.Msg)
		if err != nil {
			n.m.failures.WithLabelValues("decode").Inc()
			return
		}
		rt.add(n.core.Handle(now, k, r.From, m))
	case clusterwire.OpRestore:
		peers := make([]swarm.Restored, len(r.Peers))
		for i, rp := range r.Peers {
			peers[i] = swarm.Restored{Peer: fromWire(rp.Peer), Neighbours: rp.Neighbours, Stripe: rp.Stripe}
		}
		if err := n.core.Restore(now, k, peers); err != nil {
			n.log.Warn("cluster: restore", "swarm", k, "node", r.Node, "err", err)
		}
		os := n.ownedLocked(sh, k)
		for _, rp := range r.Peers {
			if _, ok := os.where[rp.Peer.ID]; !ok {
				os.where[rp.Peer.ID] = r.Node
			}
		}
		n.log.Info("cluster: restored members", "swarm", k, "node", r.Node, "peers", len(r.Peers))
		if os.settle == nil {
			os.settle = time.AfterFunc(n.cfg.SettleDelay, func() { n.settle(k, os) })
		}
	}
	n.m.ownerWait.Observe(now.Sub(q.at).Seconds())
}

// settle ends a takeover of swarm k once the restores had time to arrive.
func (n *Node) settle(k swarm.SwarmKey, os *ownedSwarm) {
	sh := n.shardOf(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.owned[k] != os {
		return
	}
	os.settle = nil
	n.routeLocked(n.core.Settle(time.Now(), k))
	n.m.takeovers.Inc()
	n.log.Info("cluster: swarm settled", "swarm", k, "members", n.core.Members(k))
}

// routeLocked sends outs, in order, to the nodes holding their addressees at once
// (router). The locks of the shards of the outs' swarms must be held.
func (n *Node) routeLocked(outs []swarm.Out) {
	r := n.newRouter()
	r.add(outs)
	r.flush()
}

// onPolicy applies an operator's policy change to the swarms this node owns.
func (n *Node) onPolicy(msg *nats.Msg) {
	var pc clusterwire.PolicyChange
	if clusterwire.Decode(msg.Data, &pc) != nil {
		return
	}
	n.mu.Lock()
	n.policies[pc.Stream] = pc.Policy
	n.mu.Unlock()
	defer n.lockAll()()
	n.routeLocked(n.core.SetPolicy(time.Now(), pc.Stream, pc.Policy))
}

// onStreams answers with the swarms this node owns in its view.
func (n *Node) onStreams(msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	all, err := n.core.Store().Swarms(context.Background())
	if err != nil {
		return
	}
	n.mu.Lock()
	view := n.view
	n.mu.Unlock()
	out := clusterwire.Streams{Node: n.cfg.Name, Swarms: []clusterwire.SwarmStats{}}
	for _, s := range all {
		if OwnerOf(view, s.Swarm) != n.cfg.Name {
			continue
		}
		out.Swarms = append(out.Swarms, clusterwire.SwarmStats{
			Stream: s.Swarm.Stream, Rendition: s.Swarm.Rendition, Peers: s.Peers, Capacity: s.Capacity,
			BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls,
		})
	}
	respond(msg, &out)
}

func respond(msg *nats.Msg, m clusterwire.Message) {
	if b, err := clusterwire.Encode(m); err == nil {
		msg.Respond(b)
	}
}

func toWire(p swarm.Peer) clusterwire.Peer {
	return clusterwire.Peer{ID: p.ID, Addr: p.Addr, Region: p.Region, UploadCapacity: p.UploadCapacity,
		Limit: p.Limit, Joined: p.Joined.UnixNano(), Pos: p.Pos, PosAt: clusterwire.UnixNano(p.PosAt)}
}

func fromWire(p clusterwire.Peer) swarm.Peer {
	return swarm.Peer{ID: p.ID, Addr: p.Addr, Region: p.Region, UploadCapacity: p.UploadCapacity,
		Limit: p.Limit, Joined: time.Unix(0, p.Joined), Pos: p.Pos, PosAt: clusterwire.Time(p.PosAt)}
}
