package tracker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/quota"
)

// TestJoinStorm: stormN viewers join one swarm at once, half of them through one
// address (a NAT, or an attacker) whose limit is a quarter of stormN: everything
// over the limit is refused with a reason, every other join succeeds, the
// tracker keeps serving /api/streams and a latecomer, and once the storm leaves
// nothing is left behind (connections, members; one entry per address).
// scripts/join-storm.sh runs 5,000 against a real `shoal tracker`.
func TestJoinStorm(t *testing.T) {
	const stormN, limit = 400, 100
	h := newHarness(t, Config{AddrLimits: quota.Config{PerAddr: limit}})
	j := Join{Stream: "storm", Rendition: "index"}
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		clients          []*Client
		ok, refused, bad atomic.Int64
	)
	start := time.Now()
	for i := range stormN {
		addr := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		if i%2 == 0 {
			addr = "203.0.113.99" // the crowded address
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.dialErr(j, addr)
			switch {
			case err == nil:
				ok.Add(1)
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
			case addr == "203.0.113.99":
				refused.Add(1)
			default:
				bad.Add(1)
				t.Errorf("join from %s: %v", addr, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d joins in %v: %d joined, %d refused", stormN, time.Since(start), ok.Load(), refused.Load())
	if ok.Load() != stormN/2+limit || refused.Load() != stormN/2-limit {
		t.Fatalf("joined %d, refused %d; want %d and %d", ok.Load(), refused.Load(), stormN/2+limit, stormN/2-limit)
	}
	resp, err := http.Get(h.srv.URL + "/api/streams?stream=storm")
	if err != nil {
		t.Fatal(err)
	}
	var streams []struct{ Peers int }
	json.NewDecoder(resp.Body).Decode(&streams)
	resp.Body.Close()
	if len(streams) != 1 || streams[0].Peers != int(ok.Load()) {
		t.Fatalf("/api/streams during the storm: %+v, want %d peers", streams, ok.Load())
	}
	late := h.dial(j, "198.51.100.50")
	if len(late.Welcome().Neighbours) == 0 {
		t.Fatal("latecomer got no neighbours")
	}
	late.Close()
	for _, c := range clients {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.tr.mu.RLock()
		conns, swarms := len(h.tr.all), len(h.tr.conns)
		h.tr.mu.RUnlock()
		entries := h.tr.limits.Len()
		// Addresses keep their spent join buckets until they refill (20 s), one
		// entry each; the bound under address rotation is quota's MaxIdle.
		if conns == 0 && swarms == 0 && entries <= stormN/2+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the storm left: %d connections, %d swarms, %d address entries remain", conns, swarms, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
