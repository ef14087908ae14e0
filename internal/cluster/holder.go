package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// The holder side: this node's connections. Their joins, messages and leaves go to
// the swarm's owner; the owner's messages come back in Deliveries, and on the way the
// holder notes what each peer was told (neighbours, stripe) so it can restore them.

// Join forwards p's join to the owner of swarm k and returns the welcome.
func (n *Node) Join(now time.Time, k swarm.SwarmKey, p swarm.Peer) (signalling.Welcome, error) {
	b, err := clusterwire.Encode(&clusterwire.Request{Op: clusterwire.OpJoin, Node: n.cfg.Name,
		Stream: k.Stream, Rendition: k.Rendition, Peer: new(toWire(p))})
	if err != nil {
		return signalling.Welcome{}, err
	}
	// An owner without a subscriber is dead and not yet expired from the view: wait a
	// beat for the view to move on rather than refusing the viewer.
	var owner string
	var msg *nats.Msg
	for deadline := time.Now().Add(n.cfg.RequestTimeout); ; {
		n.mu.Lock()
		owner = n.ownerOfLocked(k)
		n.mu.Unlock()
		msg, err = n.nc.Request(clusterwire.OwnerSubject(n.cfg.Prefix, owner), b, time.Until(deadline))
		if !errors.Is(err, nats.ErrNoResponders) || time.Until(deadline) < n.cfg.BeatInterval {
			break
		}
		time.Sleep(n.cfg.BeatInterval)
	}
	if err != nil {
		n.m.failures.WithLabelValues(clusterwire.OpJoin).Inc()
		return signalling.Welcome{}, fmt.Errorf("%w by owner %s: %w", ErrJoin, owner, err)
	}
	n.m.forwarded.WithLabelValues(clusterwire.OpJoin).Inc()
	var rep clusterwire.JoinReply
	if err := clusterwire.Decode(msg.Data, &rep); err != nil {
		return signalling.Welcome{}, fmt.Errorf("%w by owner %s: %w", ErrJoin, owner, err)
	}
	switch rep.Error {
	case clusterwire.JoinBanned:
		return signalling.Welcome{}, swarm.ErrBanned
	case clusterwire.JoinFull:
		return signalling.Welcome{}, swarm.ErrFull
	case clusterwire.JoinInternal:
		return signalling.Welcome{}, fmt.Errorf("%w: owner %s failed", ErrJoin, owner)
	}
	lp := &localPeer{rec: fromWire(*rep.Peer), nbrs: make(map[string]struct{}), stripe: rep.Welcome.Stripe}
	for _, nb := range rep.Welcome.Neighbours {
		lp.nbrs[nb.PeerID] = struct{}{}
	}
	n.mu.Lock()
	ls := n.local[k]
	if ls == nil {
		ls = &localSwarm{owner: owner, peers: make(map[string]*localPeer)}
		n.local[k] = ls
	}
	ls.peers[p.ID] = lp
	resync := ls.owner != owner || n.ownerOfLocked(k) != owner // the owner changed meanwhile
	n.mu.Unlock()
	if resync {
		n.restore(k)
	}
	return *rep.Welcome, nil
}

// Handle forwards a signal, stats or report from member from of swarm k to its owner.
func (n *Node) Handle(now time.Time, k swarm.SwarmKey, from string, m signalling.Message) {
	raw, err := signalling.Encode(m)
	if err != nil {
		return
	}
	n.mu.Lock()
	owner := n.ownerOfLocked(k)
	n.mu.Unlock()
	n.publish(owner, &clusterwire.Request{Op: clusterwire.OpMessage, Node: n.cfg.Name,
		Stream: k.Stream, Rendition: k.Rendition, From: from, Msg: raw})
}

// Leave tells the owner that member id of swarm k left or its connection ended.
func (n *Node) Leave(now time.Time, k swarm.SwarmKey, id string) {
	n.mu.Lock()
	ls := n.local[k]
	if ls == nil || ls.peers[id] == nil {
		n.mu.Unlock()
		return
	}
	delete(ls.peers, id)
	if len(ls.peers) == 0 {
		delete(n.local, k)
	}
	owner := n.ownerOfLocked(k)
	n.mu.Unlock()
	n.publish(owner, &clusterwire.Request{Op: clusterwire.OpLeave, Node: n.cfg.Name,
		Stream: k.Stream, Rendition: k.Rendition, From: id})
}

// SetPolicy sets a stream's policy on every node; each owner applies it to its swarms.
func (n *Node) SetPolicy(now time.Time, stream string, p signalling.Policy) {
	b, _ := clusterwire.Encode(&clusterwire.PolicyChange{Stream: stream, Policy: p})
	if err := n.nc.Publish(clusterwire.PolicySubject(n.cfg.Prefix), b); err != nil {
		n.m.failures.WithLabelValues("policy").Inc()
		n.log.Warn("cluster: policy not published", "stream", stream, "err", err)
	}
}

// Swarms asks every node for the swarms it owns and merges the answers, sorted by
// stream then rendition. A node that does not answer within the request timeout is
// left out (and logged).
func (n *Node) Swarms(ctx context.Context) ([]swarm.SwarmStats, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := n.nc.PublishRequest(clusterwire.StreamsSubject(n.cfg.Prefix), inbox, nil); err != nil {
		return nil, err
	}
	want := len(n.Nodes())
	merged := make(map[swarm.SwarmKey]swarm.SwarmStats)
	answered := make(map[string]bool)
	for len(answered) < want {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			n.log.Warn("cluster: streams: some nodes did not answer", "answered", len(answered), "nodes", want)
			break
		}
		var st clusterwire.Streams
		if clusterwire.Decode(msg.Data, &st) != nil || answered[st.Node] {
			continue
		}
		answered[st.Node] = true
		for _, s := range st.Swarms {
			k := swarm.SwarmKey{Stream: s.Stream, Rendition: s.Rendition}
			// Two owners while views converge: the one with more members is current.
			if old, ok := merged[k]; ok && old.Peers >= s.Peers {
				continue
			}
			merged[k] = swarm.SwarmStats{Swarm: k, Peers: s.Peers, Capacity: s.Capacity, Counters: swarm.Counters{
				BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls}}
		}
	}
	out := slices.Collect(maps.Values(merged))
	slices.SortFunc(out, func(a, b swarm.SwarmStats) int {
		return cmp.Or(cmp.Compare(a.Swarm.Stream, b.Swarm.Stream), cmp.Compare(a.Swarm.Rendition, b.Swarm.Rendition))
	})
	return out, nil
}

// onDelivery hands an owner's messages to this node's connections, noting each
// peer's neighbours and stripe on the way.
func (n *Node) onDelivery(msg *nats.Msg) {
	var d clusterwire.Delivery
	if err := clusterwire.Decode(msg.Data, &d); err != nil {
		n.m.failures.WithLabelValues("decode").Inc()
		return
	}
	outs := make([]swarm.Out, 0, len(d.Outs))
	var wt []clusterwire.Out
	n.mu.Lock()
	for _, o := range d.Outs {
		if o.Conn != 0 {
			wt = append(wt, o)
			continue
		}
		m, err := signalling.DecodeServer(o.Msg)
		if err != nil {
			n.m.failures.WithLabelValues("decode").Inc()
			continue
		}
		k := swarm.SwarmKey{Stream: o.Stream, Rendition: o.Rendition}
		if ls := n.local[k]; ls != nil {
			if lp := ls.peers[o.To]; lp != nil {
				lp.note(m)
				if o.Close {
					delete(ls.peers, o.To)
				}
			}
		}
		outs = append(outs, swarm.Out{Swarm: k, To: o.To, Msg: m, Close: o.Close})
	}
	n.mu.Unlock()
	if len(outs) > 0 {
		n.deliver(outs)
	}
	n.deliverWT(wt)
}

func (lp *localPeer) note(m signalling.Message) {
	switch m := m.(type) {
	case *signalling.Neighbours:
		for _, id := range m.Remove {
			delete(lp.nbrs, id)
		}
		for _, nb := range m.Add {
			lp.nbrs[nb.PeerID] = struct{}{}
		}
	case *signalling.Stripe:
		lp.stripe = *m
	}
}

// restore sends this node's members of swarm k, as they were last told, to the
// swarm's current owner.
func (n *Node) restore(k swarm.SwarmKey) {
	n.mu.Lock()
	ls := n.local[k]
	if ls == nil {
		n.mu.Unlock()
		return
	}
	owner := n.ownerOfLocked(k)
	ls.owner = owner
	peers := make([]clusterwire.Restored, 0, len(ls.peers))
	for _, lp := range ls.peers {
		peers = append(peers, clusterwire.Restored{Peer: toWire(lp.rec),
			Neighbours: slices.Sorted(maps.Keys(lp.nbrs)), Stripe: lp.stripe})
	}
	n.mu.Unlock()
	slices.SortFunc(peers, func(a, b clusterwire.Restored) int { return cmp.Compare(a.Peer.ID, b.Peer.ID) })
	for len(peers) > 0 {
		chunk := peers[:min(len(peers), restoreChunk)]
		peers = peers[len(chunk):]
		n.publish(owner, &clusterwire.Request{Op: clusterwire.OpRestore, Node: n.cfg.Name,
			Stream: k.Stream, Rendition: k.Rendition, Peers: chunk})
	}
	n.m.restores.Inc()
	n.log.Info("cluster: restoring members on the swarm's owner", "swarm", k, "owner", owner)
}

// restoreAll restores every local swarm (after a NATS reconnection).
func (n *Node) restoreAll() {
	n.mu.Lock()
	keys := sortedKeys(n.local)
	n.mu.Unlock()
	for _, k := range keys {
		n.restore(k)
	}
}
