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

// onRequest runs a request on this node's core as the swarm's owner and routes the
// resulting messages to the nodes holding their addressees.
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
	k := swarm.SwarmKey{Stream: r.Stream, Rendition: r.Rendition}
	now := time.Now()
	n.omu.Lock()
	defer n.omu.Unlock()
	switch r.Op {
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
			n.ownedLocked(k).where[p.ID] = r.Node
			if rec, err := n.core.Store().Peer(context.Background(), k, p.ID); err == nil {
				p = rec
			}
			wp := toWire(p)
			rep.Welcome, rep.Peer = &w, &wp
			n.routeLocked(outs)
		}
		respond(msg, &rep)
	case clusterwire.OpLeave:
		outs, err := n.core.Leave(now, k, r.From)
		if err != nil {
			n.log.Warn("cluster: leave", "swarm", k, "peer", r.From, "err", err)
		}
		if os := n.owned[k]; os != nil {
			n.routeLocked(outs)
			delete(os.where, r.From)
			n.cleanLocked(k, os)
		}
	case clusterwire.OpMessage:
		m, err := signalling.DecodeClient(r.Msg)
		if err != nil {
			n.m.failures.WithLabelValues("decode").Inc()
			return
		}
		n.routeLocked(n.core.Handle(now, k, r.From, m))
	case clusterwire.OpRestore:
		peers := make([]swarm.Restored, len(r.Peers))
		for i, rp := range r.Peers {
			peers[i] = swarm.Restored{Peer: fromWire(rp.Peer), Neighbours: rp.Neighbours, Stripe: rp.Stripe}
		}
		if err := n.core.Restore(now, k, peers); err != nil {
			n.log.Warn("cluster: restore", "swarm", k, "node", r.Node, "err", err)
		}
		os := n.ownedLocked(k)
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
}

// settle ends a takeover of swarm k once the restores had time to arrive.
func (n *Node) settle(k swarm.SwarmKey, os *ownedSwarm) {
	n.omu.Lock()
	defer n.omu.Unlock()
	if n.owned[k] != os {
		return
	}
	os.settle = nil
	n.routeLocked(n.core.Settle(time.Now(), k))
	n.m.takeovers.Inc()
	n.log.Info("cluster: swarm settled", "swarm", k, "members", n.core.Members(k))
}

// routeLocked sends outs, in order, to the nodes holding their addressees (one
// Delivery per node, split to stay under the payload bound). omu must be held.
func (n *Node) routeLocked(outs []swarm.Out) {
	if len(outs) == 0 {
		return
	}
	type batch struct {
		outs  []clusterwire.Out
		bytes int
	}
	batches := make(map[string]*batch)
	var order []string
	flush := func(node string, b *batch) {
		if len(b.outs) == 0 {
			return
		}
		data, err := clusterwire.Encode(&clusterwire.Delivery{Outs: b.outs})
		if err == nil {
			err = n.nc.Publish(clusterwire.NodeSubject(n.cfg.Prefix, node), data)
		}
		if err != nil {
			n.m.failures.WithLabelValues("delivery").Inc()
			n.log.Debug("cluster: deliver", "node", node, "err", err)
		} else {
			n.m.forwarded.WithLabelValues("delivery").Inc()
		}
		b.outs, b.bytes = nil, 0
	}
	for _, o := range outs {
		os := n.owned[o.Swarm]
		if os == nil {
			continue
		}
		node, ok := os.where[o.To]
		if !ok {
			continue
		}
		raw, err := signalling.Encode(o.Msg)
		if err != nil {
			continue
		}
		if o.Close {
			delete(os.where, o.To)
		}
		b := batches[node]
		if b == nil {
			b = &batch{}
			batches[node] = b
			order = append(order, node)
		}
		if len(b.outs) >= clusterwire.MaxOuts || b.bytes+len(raw) > maxDeliveryBytes {
			flush(node, b)
		}
		b.outs = append(b.outs, clusterwire.Out{Stream: o.Swarm.Stream, Rendition: o.Swarm.Rendition, To: o.To, Close: o.Close, Msg: raw})
		b.bytes += len(raw) + 128
	}
	for _, node := range order {
		flush(node, batches[node])
	}
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
	n.omu.Lock()
	defer n.omu.Unlock()
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
		Limit: p.Limit, Joined: p.Joined.UnixNano()}
}

func fromWire(p clusterwire.Peer) swarm.Peer {
	return swarm.Peer{ID: p.ID, Addr: p.Addr, Region: p.Region, UploadCapacity: p.UploadCapacity,
		Limit: p.Limit, Joined: time.Unix(0, p.Joined)}
}
