//go:build !race

package peer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestClusterSwarm: 3 `shoal tracker` processes, each with an embedded nats-server,
// the three forming one NATS cluster; 10 Go peers spread over the 3 nodes play the
// demo stream as one swarm. Every segment the proxies serve equals the origin's, the
// edge's own counter shows ≥ 70% offload, and peers on different nodes are linked
// and move bytes.
func TestClusterSwarm(t *testing.T) {
	bin := buildShoal(t)
	w := newWorld(t, tracker.Config{})
	w.stopTracker() // the cluster below is the tracker
	var natsPorts, routePorts [3]int
	for i := range 3 {
		natsPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	var nodes []*trackerProc
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
			}
		}
		nodes = append(nodes, startTrackerProc(t, bin, fmt.Sprintf("node%d", i+1),
			"--nats-embed", fmt.Sprintf("127.0.0.1:%d", natsPorts[i]),
			"--nats-embed-cluster", fmt.Sprintf("127.0.0.1:%d", routePorts[i]),
			"--nats-embed-routes", strings.Join(routes, ",")))
	}
	waitClusterNodes(t, nodes, 3)
	lb := newLinkBytes()
	r := runSwarm(t, w, 10, 30*time.Second, func(i int, c *Config) {
		c.Tracker = nodes[i%3].wsURL()
		c.NewDialer = lb.dialer(i)
	})
	logRun(t, "cluster", r)
	if r.checked == 0 {
		t.Fatal("no proxy segment checked")
	}
	if off := r.offload(); off < 0.70 {
		t.Errorf("offload from the edge's counter %.1f%%, want ≥ 70%%", 100*off)
	}
	for i, st := range r.stats {
		if !st.Player.Started || st.Player.Stalls != 0 || st.BadPieces != 0 {
			t.Errorf("peer %d: started %v, %d stalls, %d bad pieces", i, st.Player.Started, st.Player.Stalls, st.BadPieces)
		}
	}
	cross := 0
	for pair, n := range lb.pairs() {
		if pair[0]%3 != pair[1]%3 && n > 100<<10 {
			cross++
		}
	}
	t.Logf("peer pairs on different tracker nodes that moved > 100 KiB: %d", cross)
	if cross == 0 {
		t.Error("no pair of peers on different tracker nodes moved bytes")
	}
}

// waitClusterNodes waits until every node's gauge counts n nodes.
func waitClusterNodes(t *testing.T, nodes []*trackerProc, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, tp := range nodes {
		for tp.metric("shoal_tracker_cluster_nodes") != float64(n) {
			if time.Now().After(deadline) {
				t.Fatalf("tracker %s does not see %d nodes", tp.name, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
