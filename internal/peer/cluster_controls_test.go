//go:build !race

package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// TestClusterPolicies: three `shoal tracker` processes, each with an embedded NATS
// server running JetStream, one NATS cluster. A policy PUT on node 1 is what node 2
// answers and what a viewer joining node 2 is welcomed with; a ban lifted on node 3
// is looked up on the swarm's owner; after all three processes are stopped and
// started again on the same directories, node 3 still answers the policy.
func TestClusterPolicies(t *testing.T) {
	bin := buildShoal(t)
	const token = "admin-secret"
	var clientPorts, routePorts [3]int
	dirs := [3]string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i := range 3 {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	start := func() []*trackerProc {
		var procs []*trackerProc
		var ups []<-chan struct{}
		for i := range 3 {
			var routes []string
			for j := range 3 {
				if j != i {
					routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
				}
			}
			tp, up := launchTrackerProc(t, bin, fmt.Sprintf("node%d", i+1),
				"--nats-embed", fmt.Sprintf("127.0.0.1:%d", clientPorts[i]),
				"--nats-embed-cluster", fmt.Sprintf("127.0.0.1:%d", routePorts[i]),
				"--nats-embed-routes", strings.Join(routes, ","),
				"--nats-embed-store", dirs[i], "--policy-file", dirs[i]+"/policies.json",
				"--admin-token", token)
			procs, ups = append(procs, tp), append(ups, up)
		}
		for i, tp := range procs {
			tp.waitUp(t, ups[i])
		}
		waitClusterNodes(t, procs, 3)
		return procs
	}
	do := func(method, url, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	policyOf := func(tp *trackerProc) (signalling.Policy, bool) {
		code, body := do("GET", tp.httpURL()+"/api/streams/demo/policy", "")
		var v struct {
			Policy signalling.Policy `json:"policy"`
			Custom bool              `json:"custom"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
			return signalling.Policy{}, false
		}
		return v.Policy, v.Custom
	}

	procs := start()
	want := signalling.Policy{P2PEnabled: false, MaxUpload: 2000000, Neighbours: 3}
	if code, body := do("PUT", procs[0].httpURL()+"/api/streams/demo/policy?create=1", `{"p2p_enabled":false,"max_upload":2000000,"neighbours":3}`); code != http.StatusOK {
		t.Fatalf("PUT on node1: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, custom := policyOf(procs[1])
		if custom && p == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2 answers %+v (custom %v) 5 s after the PUT on node1, want %+v", p, custom, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := signalling.Dialer{}
	c, err := d.Dial(ctx, procs[1].wsURL(), signalling.Join{Stream: "demo", Rendition: "index", UploadCapacity: 5e6})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Welcome().Policy; got != want {
		t.Fatalf("viewer on node2 welcomed with %+v, want the policy set on node1 %+v", got, want)
	}
	c.Close()
	// The ban list of the swarm answers on every node (from the swarm's owner).
	for _, tp := range procs {
		if code, body := do("GET", tp.httpURL()+"/api/streams/demo/bans", ""); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
			t.Fatalf("bans on %s: %d %s", tp.name, code, body)
		}
	}

	for _, tp := range procs {
		if err := tp.stop(); err != nil {
			t.Fatalf("stop %s: %v", tp.name, err)
		}
	}
	restart := time.Now()
	procs = start()
	t.Logf("three trackers restarted on their directories in %v", time.Since(restart))
	if p, custom := policyOf(procs[2]); !custom || p != want {
		t.Fatalf("after the restart node3 answers %+v (custom %v), want %+v", p, custom, want)
	}
}
