//go:build !race

package peer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/shoal-cdn/shoal/internal/cluster"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestClusterNodeKill: a 3-node NATS cluster (embedded in the test), 3 `shoal
// tracker` processes on it and 9 Go peers, each given all three trackers. SIGKILL
// the node that owns the swarm mid-stream: its viewers reconnect to another node
// within 5 s, the swarm gets a new owner that settles it (new stripes) within 2 s,
// links between survivors keep moving bytes and nobody stalls. Then restart one NATS
// server: the trackers reconnect, none panics, and every peer is back in the swarm.
func TestClusterNodeKill(t *testing.T) {
	bin := buildShoal(t)
	w := newWorld(t, tracker.Config{})
	w.stopTracker()

	var clientPorts, routePorts [3]int
	for i := range 3 {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	natsCfg := func(i int) cluster.ServerConfig {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
			}
		}
		return cluster.ServerConfig{Name: fmt.Sprintf("nats%d", i+1), Listen: fmt.Sprintf("127.0.0.1:%d", clientPorts[i]),
			Cluster: fmt.Sprintf("127.0.0.1:%d", routePorts[i]), Routes: routes}
	}
	servers := make([]*natsserver.Server, 3)
	for i := range 3 {
		s, err := cluster.StartServer(natsCfg(i))
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
	}
	t.Cleanup(func() {
		for _, s := range servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	var nodes []*trackerProc
	var names []string
	for i := range 3 {
		var urls []string
		for j := range 3 {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[(i+j)%3]))
		}
		name := fmt.Sprintf("node%d", i+1)
		names = append(names, name)
		nodes = append(nodes, startTrackerProc(t, bin, name, "--nats", strings.Join(urls, ",")))
	}
	waitClusterNodes(t, nodes, 3)

	lb := newLinkBytes()
	const n = 9
	var peers []*testPeer
	t0 := waitPublication(t, w)
	for i := range n {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		cfg := w.peerConfig(i)
		cfg.Tracker = nodes[i%3].wsURL()
		cfg.Trackers = []string{nodes[(i+1)%3].wsURL(), nodes[(i+2)%3].wsURL()}
		cfg.NewDialer = lb.dialer(i)
		peers = append(peers, w.startPeer(cfg))
	}
	seen := make([]map[string]bool, n)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	checked := 0
	play := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			time.Sleep(min(4*time.Second, time.Until(end)))
			for i, tp := range peers {
				checked += checkProxy(t, w, tp, seen[i])
			}
		}
	}
	play(10 * time.Second)
	if got := clusterPeers(nodes[0]); got != n {
		t.Fatalf("before the kill, /api/streams counts %d peers, want %d", got, n)
	}

	// Kill the swarm's owner.
	owner := cluster.OwnerOf(names, swarm.SwarmKey{Stream: "demo", Rendition: "index"})
	var dead int
	for i, name := range names {
		if name == owner {
			dead = i
		}
	}
	oldIDs := make([]string, n)
	for i, tp := range peers {
		oldIDs[i] = tp.p.Stats().PeerID
	}
	settles := map[int]float64{}
	for i, tp := range nodes {
		if i != dead {
			settles[i] = tp.metric("shoal_tracker_cluster_settles_total")
		}
	}
	before := lb.pairs()
	killed := time.Now()
	nodes[dead].kill(t)
	var reconnect, settled time.Duration
	for reconnect == 0 || settled == 0 {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("after 15 s: viewers reconnected after %v, swarm settled after %v (0: not yet)", reconnect, settled)
		}
		time.Sleep(20 * time.Millisecond)
		if settled == 0 {
			for i, v := range settles {
				if nodes[i].metric("shoal_tracker_cluster_settles_total") > v {
					settled = time.Since(killed)
				}
			}
		}
		if reconnect == 0 {
			all := true
			for i, tp := range peers {
				if id := tp.p.Stats().PeerID; i%3 == dead && (id == "" || id == oldIDs[i]) {
					all = false
				}
			}
			if all {
				reconnect = time.Since(killed)
			}
		}
	}
	t.Logf("owner %s killed: its viewers reconnected to other nodes after %v; the new owner settled the swarm after %v", owner, reconnect, settled)
	if reconnect > 3*5*time.Second {
		t.Errorf("viewers reconnected after %v, want under 5 s (3× slack)", reconnect)
	}
	if settled > 3*2*time.Second {
		t.Errorf("new owner settled after %v, want under 2 s (3× slack)", settled)
	}
	var alive []*trackerProc
	for i, tp := range nodes {
		if i != dead {
			alive = append(alive, tp)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for clusterPeers(alive[0]) != n || clusterPeers(alive[1]) != n {
		if time.Now().After(deadline) {
			t.Fatalf("after the kill, /api/streams counts %d and %d peers, want %d", clusterPeers(alive[0]), clusterPeers(alive[1]), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	play(8 * time.Second)
	after := lb.pairs()
	kept := 0
	for pair, b := range before {
		if pair[0]%3 != dead && pair[1]%3 != dead && b > 0 && after[pair] > b {
			kept++
		}
	}
	t.Logf("links between survivors that kept moving bytes across the kill: %d", kept)
	if kept == 0 {
		t.Error("no link between peers of surviving nodes moved bytes after the kill")
	}

	// Restart the NATS server the first survivor is connected to.
	ns := (dead + 1) % 3
	servers[ns].Shutdown()
	servers[ns].WaitForShutdown()
	servers[ns] = nil
	time.Sleep(time.Second)
	s, err := cluster.StartServer(natsCfg(ns))
	if err != nil {
		t.Fatal(err)
	}
	servers[ns] = s
	deadline = time.Now().Add(20 * time.Second)
	for clusterPeers(alive[0]) != n || clusterPeers(alive[1]) != n {
		if time.Now().After(deadline) {
			t.Fatalf("after the NATS restart, /api/streams counts %d and %d peers, want %d", clusterPeers(alive[0]), clusterPeers(alive[1]), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	play(8 * time.Second)
	for _, tp := range alive {
		if !tp.alive() {
			t.Errorf("tracker %s exited", tp.name)
		}
	}
	for _, tp := range peers {
		tp.cancel()
	}
	for i, tp := range peers {
		tp.stop()
		st := tp.p.Stats()
		t.Logf("peer %d (node%d): cdn %d p2p %d up %d stalls %d played %d", i, i%3+1, st.BytesCDN, st.BytesP2P, st.BytesUp, st.Player.Stalls, st.Player.Played)
		if !st.Player.Started || st.Player.Stalls != 0 || st.BadPieces != 0 {
			t.Errorf("peer %d: started %v, %d stalls, %d bad pieces", i, st.Player.Started, st.Player.Stalls, st.BadPieces)
		}
	}
	if checked == 0 {
		t.Error("no proxy segment checked")
	}
	t.Logf("%d proxy segments checked against the origin", checked)
}
