package cluster

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// testNode is one tracker of a test cluster: its own embedded NATS server (routed to
// the others), its cluster node and its tracker on a loopback HTTP server.
type testNode struct {
	name   string
	nats   *natsserver.Server
	node   *Node
	tr     *tracker.Tracker
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
	dead   bool
}

func (tn *testNode) url() string { return "ws" + strings.TrimPrefix(tn.srv.URL, "http") + "/tracker" }

// kill stops the node as SIGKILL would: no leaving beat, connections cut.
func (tn *testNode) kill() {
	if tn.dead {
		return
	}
	tn.dead = true
	tn.srv.CloseClientConnections()
	tn.srv.Close()
	tn.node.nc.Close() // before Run's graceful leave: the others must notice the silence
	tn.cancel()
	<-tn.done
	tn.node.Close()
	tn.nats.Shutdown()
	tn.nats.WaitForShutdown()
}

// startCluster starts n nodes forming one NATS cluster and waits until every node
// sees all of them.
func startCluster(t *testing.T, n int, tcfg tracker.Config) []*testNode {
	t.Helper()
	var nodes []*testNode
	var routes []string
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		s, err := StartServer(ServerConfig{Name: name, Listen: "127.0.0.1:0", Cluster: "127.0.0.1:0", Routes: slices.Clone(routes)})
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, "nats://"+s.ClusterAddr().String())
		node, err := New(Config{URLs: []string{s.ClientURL()}, Name: name, BeatInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		cfg := tcfg
		cfg.Cluster, cfg.Registerer, cfg.TrustProxy = node, prometheus.NewRegistry(), true
		tr, err := tracker.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		tn := &testNode{name: name, nats: s, node: node, tr: tr, srv: httptest.NewServer(tr.Handler()), cancel: cancel, done: make(chan struct{})}
		go func() { tr.Run(ctx); close(tn.done) }()
		nodes = append(nodes, tn)
	}
	t.Cleanup(func() {
		for _, tn := range nodes {
			if tn.dead {
				continue
			}
			tn.cancel()
			<-tn.done
			tn.srv.Close()
			tn.node.Close()
			tn.nats.Shutdown()
			tn.nats.WaitForShutdown()
		}
	})
	waitFor(t, 10*time.Second, "every node sees the whole cluster", func() bool {
		for _, tn := range nodes {
			if len(tn.node.Nodes()) != n {
				return false
			}
		}
		return true
	})
	return nodes
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if ok() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not within %v: %s", d, what)
	return 0
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, tn *testNode, addr string, capacity int64) *signalling.Client {
	t.Helper()
	d := signalling.Dialer{HTTPHeader: map[string][]string{"X-Forwarded-For": {addr}}}
	c, err := d.Dial(ctxT(t), tn.url(), signalling.Join{Stream: "demo", Rendition: "index", UploadCapacity: capacity})
	if err != nil {
		t.Fatalf("dial %s: %v", tn.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recvUntil reads messages until match accepts one, failing after d.
func recvUntil(t *testing.T, c *signalling.Client, d time.Duration, what string, match func(signalling.Message) bool) signalling.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("peer %s: waiting for %s: %v", c.ID(), what, err)
		}
		if match(m) {
			return m
		}
	}
}

var demo = swarm.SwarmKey{Stream: "demo", Rendition: "index"}

func streams(t *testing.T, tn *testNode) []tracker.StreamStats {
	t.Helper()
	st, err := tn.tr.Streams(ctxT(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func peersOf(st []tracker.StreamStats) int {
	for _, s := range st {
		if s.Stream == demo.Stream && s.Rendition == demo.Rendition {
			return s.Peers
		}
	}
	return -1
}
