package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-cdn/shoal/internal/announce"
	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// Node is one tracker process's membership of a cluster. It implements the tracker's
// Cluster interface: the tracker hands it its swarm.Core (which then decides for the
// swarms this node owns) and its delivery function, and routes through it every join,
// message and leave of its connections.
type Node struct {
	cfg Config
	nc  *nats.Conn
	log *slog.Logger
	m   *metrics

	core    *swarm.Core
	deliver func([]swarm.Out)

	mu       sync.Mutex
	live     map[string]time.Time // node → last beat (self included, never expires)
	view     []string             // sorted keys of live
	expired  map[string]bool      // nodes this node declared dead (silent), until seen again
	local    map[swarm.SwarmKey]*localSwarm
	policies map[string]signalling.Policy

	// shards hold the owned swarms and run the owner's work (shard.go).
	shards     [ownerShards]ownerShard
	ownedCount atomic.Int64

	// WebTorrent (webtorrent.go): the owner's core and its connection ids (wtMu), the
	// holder's connections and the swarms each announced in (mu), the holder's
	// delivery function.
	wtCore    *announce.Core
	wtMu      sync.Mutex
	wtIDs     map[wtConnKey]announce.ConnID
	wtRev     map[announce.ConnID]wtConnKey
	wtNext    announce.ConnID
	wtHeld    map[announce.ConnID]map[string]*wtAnnounced
	wtDeliver func([]announce.Out)

	subs    []*nats.Subscription
	changed chan struct{} // a beat changed the view (cap 1)
	stop    chan struct{}
	loops   sync.WaitGroup
	closed  sync.Once
}

// localSwarm is this node's connections in one swarm, as it last told them.
type localSwarm struct {
	owner string // the owner this node last sent its peers to
	peers map[string]*localPeer
}

type localPeer struct {
	rec    swarm.Peer
	nbrs   map[string]struct{}
	stripe signalling.Stripe
}

// ownedSwarm is an owned swarm's routing: which node holds each member.
type ownedSwarm struct {
	where  map[string]string
	settle *time.Timer
}

// Errors.
var (
	ErrJoin   = errors.New("cluster: join not answered")
	ErrClosed = errors.New("cluster: node closed")
)

// Payload bounds per NATS message (a NATS server's default max_payload is 1 MiB).
const (
	maxDeliveryBytes = 512 << 10
	restoreChunk     = 2000
)

// New connects to NATS. The node takes part in the cluster once Start is called.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger.With("node", cfg.Name), m: m,
		live:     map[string]time.Time{cfg.Name: {}},
		view:     []string{cfg.Name},
		expired:  make(map[string]bool),
		local:    make(map[swarm.SwarmKey]*localSwarm),
		policies: make(map[string]signalling.Policy),
		changed:  make(chan struct{}, 1),
		wtIDs:    make(map[wtConnKey]announce.ConnID),
		wtRev:    make(map[announce.ConnID]wtConnKey),
		wtHeld:   make(map[announce.ConnID]map[string]*wtAnnounced),
		stop:     make(chan struct{}),
	}
	opts := []nats.Option{
		nats.Name("shoal-tracker-" + cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("cluster: NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("cluster: NATS reconnected", "server", c.ConnectedUrlRedacted())
			go n.restoreAll() // owners may have dropped our peers while we were away
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			n.log.Warn("cluster: NATS", "subject", subj, "err", err)
		}),
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %v: %w", cfg.URLs, err)
	}
	n.nc = nc
	for i := range n.shards {
		n.shards[i].owned = make(map[swarm.SwarmKey]*ownedSwarm)
		n.shards[i].reqs = make(chan ownerReq, shardQueue)
	}
	return n, nil
}

// Name is this node's name in the cluster.
func (n *Node) Name() string { return n.cfg.Name }

// Nodes returns the nodes alive in this node's view, sorted.
func (n *Node) Nodes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.view)
}

// Start joins the cluster: core decides for the swarms this node owns, deliver hands
// messages to this node's connections. It learns the other nodes and the operator's
// policies (waiting two beat intervals for their answers), then beats until Close.
func (n *Node) Start(core *swarm.Core, deliver func([]swarm.Out)) error {
	n.core, n.deliver = core, deliver
	n.wtCore = announce.NewCore(announce.CoreConfig{Store: core.Store(), Policy: core.Policy, MaxSwarms: core.Config().MaxSwarms})
	p := n.cfg.Prefix
	for subj, h := range map[string]nats.MsgHandler{
		clusterwire.BeatSubject(p):               n.onBeat,
		clusterwire.HelloSubject(p):              n.onHello,
		clusterwire.OwnerSubject(p, n.cfg.Name):  n.onRequest,
		clusterwire.NodeSubject(p, n.cfg.Name):   n.onDelivery,
		clusterwire.PolicySubject(p):             n.onPolicy,
		clusterwire.StreamsSubject(p):            n.onStreams,
		clusterwire.StoreSubject(p, n.cfg.Name):  n.onStore,
		clusterwire.ResyncSubject(p, n.cfg.Name): n.onResync,
	} {
		s, err := n.nc.Subscribe(subj, h)
		if err != nil {
			n.nc.Close()
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		s.SetPendingLimits(1<<20, 256<<20)
		n.subs = append(n.subs, s)
	}
	n.hello()
	n.beat(false)
	n.viewChanged()
	n.loops.Go(n.beatLoop)
	n.loops.Go(n.viewLoop)
	for i := range n.shards {
		n.loops.Go(func() { n.shardLoop(i) })
	}
	n.log.Info("cluster: joined", "nodes", n.Nodes())
	return nil
}

// Close leaves the cluster: the other nodes take this node's swarms over at once.
func (n *Node) Close() error {
	n.closed.Do(func() {
		close(n.stop)
		n.loops.Wait()
		n.beat(true)
		n.nc.Flush()
		n.nc.Close()
		n.log.Info("cluster: left")
	})
	return nil
}

// hello asks every node for its policies, learning who is alive on the way.
func (n *Node) hello() {
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	if err := n.nc.PublishRequest(clusterwire.HelloSubject(n.cfg.Prefix), inbox, nil); err != nil {
		return
	}
	deadline := time.Now().Add(2 * n.cfg.BeatInterval)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return
		}
		var h clusterwire.Hello
		if clusterwire.Decode(msg.Data, &h) != nil || h.Node == n.cfg.Name {
			continue
		}
		n.mu.Lock()
		n.live[h.Node] = time.Now()
		for s, pol := range h.Policies {
			if _, ok := n.policies[s]; !ok {
				n.policies[s] = pol
				n.core.SetPolicy(time.Now(), s, pol) // no swarm is owned yet: no messages
			}
		}
		n.mu.Unlock()
	}
}

func (n *Node) onHello(msg *nats.Msg) {
	n.mu.Lock()
	h := clusterwire.Hello{Node: n.cfg.Name, Policies: maps.Clone(n.policies)}
	n.mu.Unlock()
	if h.Policies == nil {
		h.Policies = map[string]signalling.Policy{}
	}
	if b, err := clusterwire.Encode(&h); err == nil && msg.Reply != "" {
		msg.Respond(b)
	}
}

func (n *Node) beat(leaving bool) {
	b, _ := clusterwire.Encode(&clusterwire.Beat{Node: n.cfg.Name, Leaving: leaving})
	if err := n.nc.Publish(clusterwire.BeatSubject(n.cfg.Prefix), b); err != nil {
		n.m.failures.WithLabelValues("beat").Inc()
	}
}

// beatLoop beats. It waits on nothing else, so owner work, however long, never
// makes this node look dead.
func (n *Node) beatLoop() {
	t := time.NewTicker(n.cfg.BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.beat(false)
		}
	}
}

// viewLoop expires silent nodes and applies view changes (which wait for the owner's
// work), off the subscription that receives beats.
func (n *Node) viewLoop() {
	t := time.NewTicker(n.cfg.BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.changed:
			n.viewChanged()
			continue
		case <-t.C:
		}
		now := time.Now()
		n.mu.Lock()
		var dead []string
		for node, seen := range n.live {
			if node != n.cfg.Name && now.Sub(seen) > n.cfg.DeadAfter {
				delete(n.live, node)
				n.expired[node] = true
				dead = append(dead, node)
			}
		}
		n.mu.Unlock()
		if len(dead) > 0 {
			slices.Sort(dead)
			n.log.Warn("cluster: nodes silent, taking over their swarms", "dead", dead, "after", n.cfg.DeadAfter)
			n.viewChanged()
		} else {
			n.dropMoved()
		}
	}
}

func (n *Node) onBeat(msg *nats.Msg) {
	var b clusterwire.Beat
	if clusterwire.Decode(msg.Data, &b) != nil || b.Node == n.cfg.Name {
		return
	}
	n.mu.Lock()
	_, known := n.live[b.Node]
	changed := false
	if b.Leaving {
		delete(n.live, b.Node)
		changed = known
	} else {
		n.live[b.Node] = time.Now()
		changed = !known
	}
	n.mu.Unlock()
	if changed {
		n.log.Info("cluster: node", "peer_node", b.Node, "leaving", b.Leaving)
		select {
		case n.changed <- struct{}{}:
		default: // a view change is already pending; it reads the latest view
		}
	}
}

// viewChanged re-derives the owners after a node appeared or went: as owner, drop the
// swarms that moved away and remove the members whose node is gone; as a holder of
// connections, restore them on their swarm's new owner.
func (n *Node) viewChanged() {
	n.mu.Lock()
	n.view = slices.Sorted(maps.Keys(n.live))
	view := n.view
	// A node this one declared dead is alive after all (it was only slow): it never
	// saw its view change, so it must be told to restore its members here.
	var back []string
	for node := range n.expired {
		if _, ok := n.live[node]; ok {
			back = append(back, node)
			delete(n.expired, node)
		}
	}
	var moved []swarm.SwarmKey
	for k, ls := range n.local {
		if OwnerOf(view, k) != ls.owner {
			moved = append(moved, k)
		}
	}
	n.mu.Unlock()
	n.m.nodes.Set(float64(len(view)))

	now := time.Now()
	for i := range n.shards {
		sh := &n.shards[i]
		sh.mu.Lock()
		for _, k := range sortedKeys(sh.owned) {
			os := sh.owned[k]
			if OwnerOf(view, k) != n.cfg.Name {
				n.forgetLocked(sh, now, k, os)
				continue
			}
			var gone []string
			for id, node := range os.where {
				if !slices.Contains(view, node) {
					gone = append(gone, id)
				}
			}
			slices.Sort(gone)
			for _, id := range gone {
				outs, err := n.core.Leave(now, k, id)
				if err != nil {
					n.log.Warn("cluster: remove member of a dead node", "swarm", k, "peer", id, "err", err)
				}
				delete(os.where, id)
				n.routeLocked(outs)
			}
			n.cleanLocked(sh, k, os)
		}
		sh.mu.Unlock()
	}
	n.wtDropNodes(now, view)
	n.wtReannounce()
	for _, k := range moved {
		n.restore(k)
	}
	for _, node := range back {
		b, _ := clusterwire.Encode(&clusterwire.Beat{Node: n.cfg.Name})
		if err := n.nc.Publish(clusterwire.ResyncSubject(n.cfg.Prefix, node), b); err != nil {
			n.m.failures.WithLabelValues("resync").Inc()
		}
		n.log.Warn("cluster: a node declared dead is back: asking it to restore its members", "peer_node", node)
	}
}

// onResync restores this node's members of the swarms the sender owns: it declared
// this node dead and removed them, though this node never saw its own view change.
func (n *Node) onResync(msg *nats.Msg) {
	var b clusterwire.Beat
	if clusterwire.Decode(msg.Data, &b) != nil || b.Node == n.cfg.Name {
		return
	}
	n.mu.Lock()
	var keys []swarm.SwarmKey
	for _, k := range sortedKeys(n.local) {
		if n.ownerOfLocked(k) == b.Node {
			keys = append(keys, k)
		}
	}
	n.mu.Unlock()
	n.log.Warn("cluster: a node had declared this one dead: restoring its members there", "peer_node", b.Node, "swarms", len(keys))
	for _, k := range keys {
		n.restore(k)
	}
}

// dropMoved forgets owned swarms another node owns in the current view (a join sent
// here by a node whose view was behind).
func (n *Node) dropMoved() {
	n.mu.Lock()
	view := n.view
	n.mu.Unlock()
	for i := range n.shards {
		sh := &n.shards[i]
		sh.mu.Lock()
		for k, os := range sh.owned {
			if OwnerOf(view, k) != n.cfg.Name {
				n.forgetLocked(sh, time.Now(), k, os)
			}
		}
		sh.mu.Unlock()
	}
}

func (n *Node) forgetLocked(sh *ownerShard, now time.Time, k swarm.SwarmKey, os *ownedSwarm) {
	if os.settle != nil {
		os.settle.Stop()
	}
	n.core.Forget(now, k)
	delete(sh.owned, k)
	n.m.owned.Set(float64(n.ownedCount.Add(-1)))
	n.log.Info("cluster: swarm moved to another owner", "swarm", k)
}

func (n *Node) cleanLocked(sh *ownerShard, k swarm.SwarmKey, os *ownedSwarm) {
	if len(os.where) == 0 && n.core.Members(k) == 0 && sh.owned[k] == os {
		if os.settle != nil {
			os.settle.Stop()
		}
		delete(sh.owned, k)
		n.m.owned.Set(float64(n.ownedCount.Add(-1)))
	}
}

func (n *Node) ownedLocked(sh *ownerShard, k swarm.SwarmKey) *ownedSwarm {
	os := sh.owned[k]
	if os == nil {
		os = &ownedSwarm{where: make(map[string]string)}
		sh.owned[k] = os
		n.m.owned.Set(float64(n.ownedCount.Add(1)))
	}
	return os
}

func sortedKeys[V any](m map[swarm.SwarmKey]V) []swarm.SwarmKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b swarm.SwarmKey) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Rendition, b.Rendition))
	})
	return keys
}

func (n *Node) ownerOfLocked(k swarm.SwarmKey) string { return OwnerOf(n.view, k) }

// publish sends a request to node's owner subject, counting failures.
func (n *Node) publish(node string, r *clusterwire.Request) {
	b, err := clusterwire.Encode(r)
	if err == nil {
		err = n.nc.Publish(clusterwire.OwnerSubject(n.cfg.Prefix, node), b)
	}
	if err != nil {
		n.m.failures.WithLabelValues(r.Op).Inc()
		n.log.Debug("cluster: send", "op", r.Op, "owner", node, "err", err)
		return
	}
	n.m.forwarded.WithLabelValues(r.Op).Inc()
}
