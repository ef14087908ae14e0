package cluster

import (
	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// router gathers an owner's messages into one Delivery per holding node, in
// decision order, split to stay under the payload bound. A shard's goroutine routes
// a run of queued requests through one router, so under load many decisions share
// a NATS message instead of one each. The locks of the shards of the added outs'
// swarms must be held from add to flush.
type router struct {
	n       *Node
	batches map[string]*deliveryBatch
	order   []string // nodes in order of their first message
}

type deliveryBatch struct {
	outs  []clusterwire.Out
	bytes int
}

func (n *Node) newRouter() *router { return &router{n: n, batches: make(map[string]*deliveryBatch)} }

// add queues outs for their addressees' nodes (a Close forgets the addressee now,
// as the core already removed it).
func (r *router) add(outs []swarm.Out) {
	for _, o := range outs {
		os := r.n.shardOf(o.Swarm).owned[o.Swarm]
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
		r.queue(node, clusterwire.Out{Stream: o.Swarm.Stream, Rendition: o.Swarm.Rendition, To: o.To, Close: o.Close, Msg: raw})
	}
}

// queue adds one message for node, sending the node's batch first if it is full.
func (r *router) queue(node string, o clusterwire.Out) {
	b := r.batches[node]
	if b == nil {
		b = &deliveryBatch{}
		r.batches[node] = b
		r.order = append(r.order, node)
	}
	if len(b.outs) >= clusterwire.MaxOuts || b.bytes+len(o.Msg) > maxDeliveryBytes {
		r.send(node, b)
	}
	b.outs = append(b.outs, o)
	b.bytes += len(o.Msg) + 128
}

// flush sends what is queued, one Delivery per node, and leaves r empty for reuse.
func (r *router) flush() {
	for _, node := range r.order {
		r.send(node, r.batches[node])
	}
	clear(r.batches)
	r.order = r.order[:0]
}

func (r *router) send(node string, b *deliveryBatch) {
	if len(b.outs) == 0 {
		return
	}
	n := r.n
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
