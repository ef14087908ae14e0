package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/swarm/storetest"
)

// TestStoreSuite: the clustered Store passes the shared Store suite on three nodes of
// one NATS cluster, each call made through a different node in turn, so most calls
// cross NATS to the swarm's owner and the rest run in place.
func TestStoreSuite(t *testing.T) {
	var routes []string
	var urls []string
	for i := range 3 {
		s, err := StartServer(ServerConfig{Name: fmt.Sprintf("s%d", i+1), Listen: "127.0.0.1:0", Cluster: "127.0.0.1:0", Routes: slices.Clone(routes)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		routes = append(routes, "nats://"+s.ClusterAddr().String())
		urls = append(urls, s.ClientURL())
	}
	var prefixes atomic.Int64
	var all []*Node
	storetest.Run(t, func() swarm.Store {
		// A fresh cluster (own subject prefix, empty stores) on the same NATS servers.
		prefix := fmt.Sprintf("storetest%d", prefixes.Add(1))
		var stores []*Store
		var nodes []*Node
		for i, u := range urls {
			n, err := New(Config{URLs: []string{u}, Name: fmt.Sprintf("n%d", i+1), Prefix: prefix, BeatInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			core, err := swarm.New(swarm.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(core, func([]swarm.Out) {}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			nodes = append(nodes, n)
			all = append(all, n)
			stores = append(stores, n.Store())
		}
		waitFor(t, 5*time.Second, "every node sees the three", func() bool {
			for _, n := range nodes {
				if len(n.Nodes()) != 3 {
					return false
				}
			}
			return true
		})
		return &roundRobin{stores: stores}
	})
	// The suite ran through NATS, not only in place: most calls went to another owner.
	var remote float64
	for _, n := range all {
		remote += testutil.ToFloat64(n.m.forwarded.WithLabelValues("store"))
	}
	if remote < 100 {
		t.Fatalf("%v store calls crossed NATS, want most of the suite's", remote)
	}
	t.Logf("%v store calls crossed NATS", remote)
}

// roundRobin makes each call through the next node's Store.
type roundRobin struct {
	stores []*Store
	next   atomic.Uint64
}

func (r *roundRobin) pick() *Store { return r.stores[r.next.Add(1)%uint64(len(r.stores))] }

func (r *roundRobin) AddPeer(ctx context.Context, s swarm.SwarmKey, p swarm.Peer) error {
	return r.pick().AddPeer(ctx, s, p)
}
func (r *roundRobin) RemovePeer(ctx context.Context, s swarm.SwarmKey, id string, now time.Time) ([]string, error) {
	return r.pick().RemovePeer(ctx, s, id, now)
}
func (r *roundRobin) Peer(ctx context.Context, s swarm.SwarmKey, id string) (swarm.Peer, error) {
	return r.pick().Peer(ctx, s, id)
}
func (r *roundRobin) OpenPeers(ctx context.Context, s swarm.SwarmKey, start uint64, limit int) ([]swarm.Peer, error) {
	return r.pick().OpenPeers(ctx, s, start, limit)
}
func (r *roundRobin) SetLimit(ctx context.Context, s swarm.SwarmKey, id string, limit int) error {
	return r.pick().SetLimit(ctx, s, id, limit)
}
func (r *roundRobin) SetPosition(ctx context.Context, s swarm.SwarmKey, id string, pos float64, at time.Time) error {
	return r.pick().SetPosition(ctx, s, id, pos, at)
}
func (r *roundRobin) Link(ctx context.Context, s swarm.SwarmKey, a, b string) error {
	return r.pick().Link(ctx, s, a, b)
}
func (r *roundRobin) Unlink(ctx context.Context, s swarm.SwarmKey, a, b string) error {
	return r.pick().Unlink(ctx, s, a, b)
}
func (r *roundRobin) Neighbours(ctx context.Context, s swarm.SwarmKey, id string) ([]string, error) {
	return r.pick().Neighbours(ctx, s, id)
}
func (r *roundRobin) Linked(ctx context.Context, s swarm.SwarmKey, a, b string) (bool, error) {
	return r.pick().Linked(ctx, s, a, b)
}
func (r *roundRobin) Met(ctx context.Context, s swarm.SwarmKey, a, b string) (bool, error) {
	return r.pick().Met(ctx, s, a, b)
}
func (r *roundRobin) UpdateStats(ctx context.Context, s swarm.SwarmKey, id string, c swarm.Counters) (swarm.Counters, error) {
	return r.pick().UpdateStats(ctx, s, id, c)
}
func (r *roundRobin) Swarm(ctx context.Context, s swarm.SwarmKey) (swarm.SwarmStats, error) {
	return r.pick().Swarm(ctx, s)
}
func (r *roundRobin) Swarms(ctx context.Context) ([]swarm.SwarmStats, error) {
	return r.pick().Swarms(ctx)
}
func (r *roundRobin) AddReport(ctx context.Context, s swarm.SwarmKey, target, addr string) ([]swarm.Reporter, error) {
	return r.pick().AddReport(ctx, s, target, addr)
}
func (r *roundRobin) AddStrikes(ctx context.Context, s swarm.SwarmKey, addr string, delta int, now time.Time, ttl time.Duration) (int, error) {
	return r.pick().AddStrikes(ctx, s, addr, delta, now, ttl)
}
func (r *roundRobin) Ban(ctx context.Context, s swarm.SwarmKey, b swarm.Ban) error {
	return r.pick().Ban(ctx, s, b)
}
func (r *roundRobin) Banned(ctx context.Context, s swarm.SwarmKey, id, addr string, now time.Time) (bool, error) {
	return r.pick().Banned(ctx, s, id, addr, now)
}
func (r *roundRobin) Collect(ctx context.Context, now time.Time, ttl time.Duration) error {
	return r.pick().Collect(ctx, now, ttl)
}
