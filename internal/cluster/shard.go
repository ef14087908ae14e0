package cluster

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// The owner's work runs on ownerShards goroutines, not on the one NATS subscription
// that receives it: a swarm hashes to one shard, whose goroutine runs that swarm's
// requests in arrival order (so each node still gets a swarm's messages in decision
// order), while the swarms of other shards are decided in parallel (swarm.Core runs
// different swarms in parallel). A node owning many swarms no longer queues every
// join and relay behind one another.
const (
	ownerShards = 32
	// shardQueue bounds the requests waiting for one shard. A full queue holds the
	// NATS callback; NATS's pending limits (SetPendingLimits in Start) bound the rest.
	shardQueue = 1024
	// shardBatch and shardHold bound the requests a shard runs, and for how long,
	// before it sends their messages.
	shardBatch = 64
	shardHold  = time.Millisecond
)

// ownerShard is the owned swarms of one shard. mu serialises the core decisions of
// these swarms and the routing of their messages; paths that span swarms (a view
// change, a policy) take the shards' locks one at a time or all in index order.
type ownerShard struct {
	mu    sync.Mutex
	owned map[swarm.SwarmKey]*ownedSwarm
	reqs  chan ownerReq
}

// ownerReq is one decoded request and the message it came in (for its reply).
type ownerReq struct {
	r   *clusterwire.Request
	msg *nats.Msg
	at  time.Time
}

var shardSeed = maphash.MakeSeed()

func shardIndex(k swarm.SwarmKey) int {
	var h maphash.Hash
	h.SetSeed(shardSeed)
	h.WriteString(k.Stream)
	h.WriteByte(0)
	h.WriteString(k.Rendition)
	return int(h.Sum64() % ownerShards)
}

func (n *Node) shardOf(k swarm.SwarmKey) *ownerShard { return &n.shards[shardIndex(k)] }

// lockAll takes every shard's lock in index order (no other path holds two).
func (n *Node) lockAll() (unlock func()) {
	for i := range n.shards {
		n.shards[i].mu.Lock()
	}
	return func() {
		for i := range n.shards {
			n.shards[i].mu.Unlock()
		}
	}
}

// shardLoop runs shard i's requests until the node stops.
func (n *Node) shardLoop(i int) {
	sh := &n.shards[i]
	rt := n.newRouter()
	for {
		select {
		case <-n.stop:
			return
		case q := <-sh.reqs:
			sh.mu.Lock()
			start := time.Now()
			n.runRequestLocked(sh, q, rt)
			// Run what queued meanwhile (up to shardBatch, for up to shardHold)
			// before sending: their messages to one node share a Delivery, and no
			// message waits behind more than shardHold of others' work.
		drain:
			for range shardBatch - 1 {
				if time.Since(start) > shardHold {
					break
				}
				select {
				case q = <-sh.reqs:
					n.runRequestLocked(sh, q, rt)
				default:
					break drain
				}
			}
			rt.flush()
			sh.mu.Unlock()
		}
	}
}
