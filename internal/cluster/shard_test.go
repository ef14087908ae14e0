package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestShardsIndependent: while one swarm's shard is busy (held here), another swarm
// of the same owner still relays its signals, and the busy swarm's join waits in
// its queue and completes once the shard is free: owner work is per shard, not per
// node.
func TestShardsIndependent(t *testing.T) {
	nodes := startCluster(t, 2, tracker.Config{})
	a := swarm.SwarmKey{Stream: "demo", Rendition: "index"}
	var b swarm.SwarmKey
	for i := 0; ; i++ {
		b = swarm.SwarmKey{Stream: "demo", Rendition: fmt.Sprintf("r%d", i)}
		if shardIndex(b) != shardIndex(a) && OwnerOf(nodes[0].node.Nodes(), b) == OwnerOf(nodes[0].node.Nodes(), a) {
			break
		}
	}
	var owner *testNode
	for _, tn := range nodes {
		if tn.name == OwnerOf(tn.node.Nodes(), a) {
			owner = tn
		}
	}
	join := func(tn *testNode, k swarm.SwarmKey, addr string) *signalling.Client {
		t.Helper()
		d := signalling.Dialer{HTTPHeader: map[string][]string{"X-Forwarded-For": {addr}}}
		c, err := d.Dial(ctxT(t), tn.url(), signalling.Join{Stream: k.Stream, Rendition: k.Rendition, UploadCapacity: 1e6})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	b1 := join(nodes[0], b, "10.0.0.1")
	b2 := join(nodes[1], b, "10.0.1.1")

	sh := owner.node.shardOf(a)
	sh.mu.Lock()
	joined := make(chan error, 1)
	go func() {
		d := signalling.Dialer{HTTPHeader: map[string][]string{"X-Forwarded-For": {"10.0.2.1"}}}
		c, err := d.Dial(ctxT(t), nodes[1].url(), signalling.Join{Stream: a.Stream, Rendition: a.Rendition, UploadCapacity: 1e6})
		if err == nil {
			c.Close()
		}
		joined <- err
	}()
	offer := signalling.SignalData{Type: signalling.SignalOffer, SDP: "v=0\r\n"}
	if err := b2.Send(ctxT(t), &signalling.Signal{To: b1.ID(), Data: offer}); err != nil {
		sh.mu.Unlock()
		t.Fatal(err)
	}
	recvUntil(t, b1, 5*time.Second, "b2's offer while a's shard is busy", func(m signalling.Message) bool {
		s, ok := m.(*signalling.Signal)
		return ok && s.From == b2.ID()
	})
	select {
	case err := <-joined:
		sh.mu.Unlock()
		t.Fatalf("the join of the busy swarm completed while its shard was held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	sh.mu.Unlock()
	select {
	case err := <-joined:
		if err != nil {
			t.Fatalf("the queued join failed once the shard was free: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued join did not complete within 5 s of the shard being free")
	}
}
