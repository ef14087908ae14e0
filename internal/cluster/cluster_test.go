package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestSwarmSpansNodes: peers on three nodes are one swarm: introduced across nodes,
// signals relayed across nodes, one stripe assignment, /api/streams on any node
// counting all of them.
func TestSwarmSpansNodes(t *testing.T) {
	nodes := startCluster(t, 3, tracker.Config{})
	a := dial(t, nodes[0], "10.0.0.1", 30e6)
	b := dial(t, nodes[1], "10.0.1.1", 20e6)
	c := dial(t, nodes[2], "10.0.2.1", 10e6)
	if !slices.ContainsFunc(b.Welcome().Neighbours, func(n signalling.Neighbour) bool { return n.PeerID == a.ID() }) {
		t.Fatalf("b (node 2) was not introduced to a (node 1): %+v", b.Welcome())
	}
	recvUntil(t, a, 5*time.Second, "add b", func(m signalling.Message) bool {
		n, ok := m.(*signalling.Neighbours)
		return ok && slices.ContainsFunc(n.Add, func(x signalling.Neighbour) bool { return x.PeerID == b.ID() })
	})
	// b offers (it joined later); a receives the relayed signal from node 2 on node 1.
	offer := signalling.SignalData{Type: signalling.SignalOffer, SDP: "v=0\r\n"}
	if err := b.Send(ctxT(t), &signalling.Signal{To: a.ID(), Data: offer}); err != nil {
		t.Fatal(err)
	}
	sig := recvUntil(t, a, 5*time.Second, "b's offer", func(m signalling.Message) bool {
		s, ok := m.(*signalling.Signal)
		return ok && s.From == b.ID()
	}).(*signalling.Signal)
	if sig.Data != offer {
		t.Fatalf("relayed %+v, want %+v", sig.Data, offer)
	}
	// A signal to a peer that is not a neighbour is refused by the one owner.
	if err := c.Send(ctxT(t), &signalling.Signal{To: "AAAAAAAAAAAAAAAAAAAAAA", Data: offer}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, c, 5*time.Second, "not_neighbour", func(m signalling.Message) bool {
		e, ok := m.(*signalling.Error)
		return ok && e.Code == signalling.CodeNotNeighbour
	})
	// One seeding assignment: SeedCount(3) = 2 stripes over the two strongest, a and b.
	if w := a.Welcome().Stripe; w != (signalling.Stripe{Index: 0, Count: 1}) && w.Count != 0 {
		t.Logf("a's first stripe %+v", w)
	}
	for _, tn := range nodes {
		waitFor(t, 5*time.Second, "every node counts 3 peers in /api/streams", func() bool { return peersOf(streams(t, tn)) == 3 })
	}
}

// TestOwnerKilled: the swarm's owner dies without a word; the survivors take the
// swarm over within the detection time plus the settle delay, the dead node's peer
// is removed from its neighbours, and the stripes cover the survivors.
func TestOwnerKilled(t *testing.T) {
	nodes := startCluster(t, 3, tracker.Config{})
	owner := OwnerOf(nodes[0].node.Nodes(), demo)
	var dead *testNode
	var alive []*testNode
	for _, tn := range nodes {
		if tn.name == owner {
			dead = tn
		} else {
			alive = append(alive, tn)
		}
	}
	x := dial(t, dead, "10.0.9.1", 50e6) // the strongest: a seeder
	p1 := dial(t, alive[0], "10.0.0.1", 20e6)
	p2 := dial(t, alive[1], "10.0.1.1", 10e6)
	waitFor(t, 5*time.Second, "3 peers", func() bool { return peersOf(streams(t, alive[0])) == 3 })

	start := time.Now()
	dead.kill()
	for _, c := range []*signalling.Client{p1, p2} {
		recvUntil(t, c, 6*time.Second, "remove of the dead node's peer", func(m signalling.Message) bool {
			n, ok := m.(*signalling.Neighbours)
			return ok && slices.Contains(n.Remove, x.ID())
		})
	}
	// x seeded one of SeedCount(3) = 2 stripes; with 2 members both seed, and p2,
	// the only non-seeder before, takes x's stripe.
	st := recvUntil(t, p2, 6*time.Second, "x's stripe", func(m signalling.Message) bool {
		_, ok := m.(*signalling.Stripe)
		return ok
	}).(*signalling.Stripe)
	took := time.Since(start)
	if st.Count != 2 {
		t.Fatalf("p2's stripe after takeover %+v, want one of 2", st)
	}
	t.Logf("dead owner's peer removed and its stripe reassigned after %v", took)
	if took > 3*2*time.Second {
		t.Fatalf("takeover took %v, want under 2 s (3× slack)", took)
	}
	for _, tn := range alive {
		waitFor(t, 6*time.Second, "survivors count 2 peers", func() bool { return peersOf(streams(t, tn)) == 2 })
	}
	// The survivors still form a swarm: p2 joined after p1, so it offers; the new owner relays.
	offer := signalling.SignalData{Type: signalling.SignalOffer, SDP: "v=0\r\n"}
	if err := p2.Send(ctxT(t), &signalling.Signal{To: p1.ID(), Data: offer}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, p1, 5*time.Second, "p2's offer through the new owner", func(m signalling.Message) bool {
		s, ok := m.(*signalling.Signal)
		return ok && s.From == p2.ID()
	})
	// A newcomer joins the taken-over swarm and meets both.
	q := dial(t, alive[0], "10.0.2.1", 5e6)
	if len(q.Welcome().Neighbours) != 2 {
		t.Fatalf("newcomer after takeover: %+v", q.Welcome())
	}
}

// TestDeclaredDeadButAlive: an owner that declares a slow node dead removes that
// node's viewers; when the node's beats are heard again it is asked to restore them
// (it never saw its own view change), and the owner counts them again.
func TestDeclaredDeadButAlive(t *testing.T) {
	nodes := startCluster(t, 2, tracker.Config{})
	var owner, holder *testNode
	for _, tn := range nodes {
		if tn.name == OwnerOf(tn.node.Nodes(), demo) {
			owner = tn
		} else {
			holder = tn
		}
	}
	dial(t, holder, "10.0.0.1", 10e6)
	dial(t, holder, "10.0.0.2", 10e6)
	waitFor(t, 5*time.Second, "2 members", func() bool { return owner.node.core.Members(demo) == 2 })
	// As the owner's viewLoop does when the holder is silent for DeadAfter.
	owner.node.mu.Lock()
	delete(owner.node.live, holder.name)
	owner.node.expired[holder.name] = true
	owner.node.mu.Unlock()
	owner.node.viewChanged()
	if m := owner.node.core.Members(demo); m != 0 {
		t.Fatalf("the owner kept %d members of a node it declared dead", m)
	}
	// The holder's next beat brings it back; its members are restored.
	took := waitFor(t, 5*time.Second, "the holder's members restored on the owner", func() bool { return owner.node.core.Members(demo) == 2 })
	t.Logf("members back %v after the false death", took)
}
