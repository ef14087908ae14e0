// Package storetest is the shared behaviour suite for swarm.Store implementations,
// in the manner of chihaya's storage tests: every store must pass Run (the in-memory
// one in internal/swarm, the clustered one in internal/cluster: TestStoreSuite).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

var (
	swarmA = swarm.SwarmKey{Stream: "demo", Rendition: "index"}
	swarmB = swarm.SwarmKey{Stream: "demo", Rendition: "hi"}
	t0     = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

func peer(id string, limit int) swarm.Peer {
	return swarm.Peer{ID: id, Addr: "10.0.0." + id, Region: "eu", UploadCapacity: 1000, Limit: limit, Joined: t0}
}

// Run runs the suite; newStore must return an empty store each call.
func Run(t *testing.T, newStore func() swarm.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, swarm.Store)
	}{
		{"Peers", testPeers},
		{"Links", testLinks},
		{"OpenPeers", testOpenPeers},
		{"Position", testPosition},
		{"Stats", testStats},
		{"Reports", testReports},
		{"Strikes", testStrikes},
		{"Bans", testBans},
		{"Collect", testCollect},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore()) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testPosition: a position set is what Peer and OpenPeers return.
func testPosition(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	if err := s.SetPosition(ctx, swarmA, "1", 10, t0); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("missing SetPosition: %v", err)
	}
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	at := t0.Add(90 * time.Second)
	must(t, s.SetPosition(ctx, swarmA, "1", 312.5, at))
	got, err := s.Peer(ctx, swarmA, "1")
	must(t, err)
	if got.Pos != 312.5 || !got.PosAt.Equal(at) {
		t.Fatalf("Peer after SetPosition = %+v", got)
	}
	open, err := s.OpenPeers(ctx, swarmA, 0, 10)
	must(t, err)
	if len(open) != 1 || open[0].Pos != 312.5 || !open[0].PosAt.Equal(at) {
		t.Fatalf("OpenPeers after SetPosition = %+v", open)
	}
}

func testPeers(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	if err := s.AddPeer(ctx, swarmA, peer("1", 4)); !errors.Is(err, swarm.ErrPeerExists) {
		t.Fatalf("duplicate AddPeer: %v", err)
	}
	must(t, s.AddPeer(ctx, swarmB, peer("1", 4))) // same id, other swarm
	got, err := s.Peer(ctx, swarmA, "1")
	must(t, err)
	if want := peer("1", 4); got != want {
		t.Fatalf("Peer = %+v, want %+v", got, want)
	}
	if _, err := s.Peer(ctx, swarmA, "2"); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("missing Peer: %v", err)
	}
	if _, err := s.RemovePeer(ctx, swarmA, "2", t0); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("missing RemovePeer: %v", err)
	}
	if err := s.SetLimit(ctx, swarmA, "2", 1); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("missing SetLimit: %v", err)
	}
	st, err := s.Swarm(ctx, swarmA)
	must(t, err)
	if st.Peers != 1 || st.Capacity != 1000 || st.Swarm != swarmA {
		t.Fatalf("Swarm = %+v", st)
	}
	_, err = s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	if st, _ := s.Swarm(ctx, swarmA); st.Peers != 0 || st.Capacity != 0 {
		t.Fatalf("after remove: %+v", st)
	}
	if st, _ := s.Swarm(ctx, swarm.SwarmKey{Stream: "x", Rendition: "y"}); st.Peers != 0 {
		t.Fatalf("unknown swarm: %+v", st)
	}
}

func testLinks(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	for _, id := range []string{"1", "2", "3"} {
		must(t, s.AddPeer(ctx, swarmA, peer(id, 4)))
	}
	must(t, s.AddPeer(ctx, swarmB, peer("9", 4)))
	must(t, s.Link(ctx, swarmA, "1", "2"))
	must(t, s.Link(ctx, swarmA, "2", "1")) // idempotent
	must(t, s.Link(ctx, swarmA, "3", "1"))
	if err := s.Link(ctx, swarmA, "1", "1"); err == nil {
		t.Fatal("self link accepted")
	}
	if err := s.Link(ctx, swarmA, "1", "9"); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("cross-swarm link: %v", err)
	}
	for _, tc := range []struct {
		a, b        string
		linked, met bool
	}{
		{"1", "2", true, true}, {"2", "1", true, true}, {"1", "3", true, true},
		{"2", "3", false, false}, {"1", "9", false, false}, {"1", "404", false, false},
	} {
		if l, err := s.Linked(ctx, swarmA, tc.a, tc.b); err != nil || l != tc.linked {
			t.Fatalf("Linked(%s,%s) = %v, %v", tc.a, tc.b, l, err)
		}
		if m, err := s.Met(ctx, swarmA, tc.a, tc.b); err != nil || m != tc.met {
			t.Fatalf("Met(%s,%s) = %v, %v", tc.a, tc.b, m, err)
		}
	}
	n, err := s.Neighbours(ctx, swarmA, "1")
	must(t, err)
	if !slices.Equal(n, []string{"2", "3"}) {
		t.Fatalf("Neighbours(1) = %v", n)
	}
	if p, _ := s.Peer(ctx, swarmA, "1"); p.Degree != 2 {
		t.Fatalf("Degree = %d", p.Degree)
	}
	must(t, s.Unlink(ctx, swarmA, "2", "1"))
	if l, _ := s.Linked(ctx, swarmA, "1", "2"); l {
		t.Fatal("still linked after Unlink")
	}
	if m, _ := s.Met(ctx, swarmA, "1", "2"); !m {
		t.Fatal("Unlink forgot that they met")
	}
	nbrs, err := s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	if !slices.Equal(nbrs, []string{"3"}) {
		t.Fatalf("RemovePeer neighbours = %v", nbrs)
	}
	if n, _ := s.Neighbours(ctx, swarmA, "3"); len(n) != 0 {
		t.Fatalf("3 still linked to removed peer: %v", n)
	}
	if _, err := s.Neighbours(ctx, swarmA, "1"); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("Neighbours of removed: %v", err)
	}
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4))) // same id again starts fresh
	if m, _ := s.Met(ctx, swarmA, "1", "2"); m {
		t.Fatal("met survives removal")
	}
}

func testOpenPeers(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	must(t, s.AddPeer(ctx, swarmA, peer("1", 1)))
	must(t, s.AddPeer(ctx, swarmA, peer("2", 1)))
	must(t, s.AddPeer(ctx, swarmA, peer("3", 2)))
	must(t, s.AddPeer(ctx, swarmA, peer("4", 0)))
	open := func() []string {
		ps, err := s.OpenPeers(ctx, swarmA, 7, 100)
		must(t, err)
		var ids []string
		for _, p := range ps {
			if p.Degree >= p.Limit {
				t.Fatalf("OpenPeers returned full peer %+v", p)
			}
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := open(); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("open = %v", got)
	}
	must(t, s.Link(ctx, swarmA, "1", "3"))
	if got := open(); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("open after link = %v", got)
	}
	must(t, s.SetLimit(ctx, swarmA, "1", 2))
	must(t, s.SetLimit(ctx, swarmA, "3", 1))
	if got := open(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("open after SetLimit = %v", got)
	}
	if ps, _ := s.OpenPeers(ctx, swarmA, 0, 1); len(ps) != 1 {
		t.Fatalf("limit ignored: %d", len(ps))
	}
	testOpenSample(t, s)
	_, err := s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	if got := open(); !slices.Equal(got, []string{"2", "3"}) {
		t.Fatalf("open after remove = %v", got)
	}
	if ps, _ := s.OpenPeers(ctx, swarmB, 0, 10); len(ps) != 0 {
		t.Fatalf("unknown swarm open = %v", ps)
	}
}

// testOpenSample: a limited OpenPeers is a deterministic function of start, returns
// distinct open peers, and different starts reach every open peer.
func testOpenSample(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	k := swarm.SwarmKey{Stream: "sample", Rendition: "index"}
	for i := range 20 {
		must(t, s.AddPeer(ctx, k, peer(fmt.Sprint(i), 2)))
	}
	seen := map[string]bool{}
	for start := range uint64(40) {
		a, err := s.OpenPeers(ctx, k, start, 5)
		must(t, err)
		b, err := s.OpenPeers(ctx, k, start, 5)
		must(t, err)
		if !slices.Equal(a, b) || len(a) != 5 {
			t.Fatalf("start %d: %v then %v", start, a, b)
		}
		ids := map[string]bool{}
		for _, p := range a {
			if ids[p.ID] {
				t.Fatalf("start %d: %s twice", start, p.ID)
			}
			ids[p.ID], seen[p.ID] = true, true
		}
	}
	if len(seen) != 20 {
		t.Fatalf("starts 0..39 reached %d of 20 open peers", len(seen))
	}
}

func testStats(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	must(t, s.AddPeer(ctx, swarmA, peer("2", 4)))
	must(t, s.AddPeer(ctx, swarmB, peer("1", 4)))
	steps := []struct {
		id    string
		c     swarm.Counters
		delta swarm.Counters
	}{
		{"1", swarm.Counters{BytesCDN: 100, BytesP2P: 50, BytesUp: 10, Stalls: 1}, swarm.Counters{BytesCDN: 100, BytesP2P: 50, BytesUp: 10, Stalls: 1}},
		{"1", swarm.Counters{BytesCDN: 150, BytesP2P: 40, BytesUp: 10, Stalls: 1}, swarm.Counters{BytesCDN: 50}},
		{"1", swarm.Counters{BytesCDN: 150, BytesP2P: 60, BytesUp: 5, Stalls: 3}, swarm.Counters{BytesP2P: 10, Stalls: 2}},
		{"2", swarm.Counters{BytesCDN: 1}, swarm.Counters{BytesCDN: 1}},
	}
	for i, st := range steps {
		d, err := s.UpdateStats(ctx, swarmA, st.id, st.c)
		must(t, err)
		if d != st.delta {
			t.Fatalf("step %d: delta %+v, want %+v", i, d, st.delta)
		}
	}
	if _, err := s.UpdateStats(ctx, swarmA, "404", swarm.Counters{}); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("stats of missing peer: %v", err)
	}
	_, err := s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	want := swarm.Counters{BytesCDN: 151, BytesP2P: 60, BytesUp: 10, Stalls: 3}
	all, err := s.Swarms(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Swarm != swarmB || all[1].Swarm != swarmA {
		t.Fatalf("Swarms order: %+v", all)
	}
	if all[1].Counters != want || all[1].Peers != 1 {
		t.Fatalf("totals %+v, want %+v with 1 peer", all[1], want)
	}
}

func testReports(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	if _, err := s.AddReport(ctx, swarmA, "404", "10.0.0.9"); !errors.Is(err, swarm.ErrPeerNotFound) {
		t.Fatalf("report on missing: %v", err)
	}
	_, err := s.AddReport(ctx, swarmA, "1", "10.0.0.9")
	must(t, err)
	_, err = s.AddReport(ctx, swarmA, "1", "10.0.0.8")
	must(t, err)
	got, err := s.AddReport(ctx, swarmA, "1", "10.0.0.9")
	must(t, err)
	want := []swarm.Reporter{{Addr: "10.0.0.8", Count: 1}, {Addr: "10.0.0.9", Count: 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("reporters %+v, want %+v", got, want)
	}
	_, err = s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	got, err = s.AddReport(ctx, swarmA, "1", "10.0.0.9")
	must(t, err)
	if !slices.Equal(got, []swarm.Reporter{{Addr: "10.0.0.9", Count: 1}}) {
		t.Fatalf("reports survived removal: %+v", got)
	}
}

func testStrikes(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	add := func(addr string, d int, now time.Time) int {
		n, err := s.AddStrikes(ctx, swarmA, addr, d, now, time.Hour)
		must(t, err)
		return n
	}
	if n := add("a", 0, t0); n != 0 {
		t.Fatalf("fresh = %d", n)
	}
	add("a", 1, t0)
	if n := add("a", 2, t0.Add(time.Minute)); n != 3 {
		t.Fatalf("after +1 +2 = %d", n)
	}
	if n := add("a", -5, t0.Add(time.Minute)); n != 0 {
		t.Fatalf("clamped = %d", n)
	}
	add("a", 2, t0)
	if n := add("b", 0, t0); n != 0 {
		t.Fatalf("other address = %d", n)
	}
	if n, _ := s.AddStrikes(ctx, swarmB, "a", 0, t0, time.Hour); n != 0 {
		t.Fatalf("other swarm = %d", n)
	}
	if n := add("a", 0, t0.Add(59*time.Minute)); n != 2 {
		t.Fatalf("before ttl = %d", n)
	}
	if n := add("a", 0, t0.Add(61*time.Minute)); n != 0 {
		t.Fatalf("after ttl = %d", n)
	}
	if n := add("a", 1, t0.Add(61*time.Minute)); n != 1 {
		t.Fatalf("restart after expiry = %d", n)
	}
}

func testBans(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	must(t, s.Ban(ctx, swarmA, swarm.Ban{PeerID: "p1", Addr: "10.0.0.1", Until: t0.Add(time.Hour)}))
	must(t, s.Ban(ctx, swarmA, swarm.Ban{Addr: "10.0.0.1", Until: t0.Add(time.Minute)})) // shorter: no effect
	for _, tc := range []struct {
		s        swarm.SwarmKey
		id, addr string
		at       time.Duration
		want     bool
	}{
		{swarmA, "p1", "", 0, true},
		{swarmA, "", "10.0.0.1", 30 * time.Minute, true},
		{swarmA, "p2", "10.0.0.2", 0, false},
		{swarmB, "p1", "10.0.0.1", 0, false},
		{swarmA, "p1", "10.0.0.1", time.Hour, false},
		{swarmA, "", "", 0, false},
	} {
		got, err := s.Banned(ctx, tc.s, tc.id, tc.addr, t0.Add(tc.at))
		must(t, err)
		if got != tc.want {
			t.Fatalf("Banned(%v, %q, %q, +%v) = %v", tc.s, tc.id, tc.addr, tc.at, got)
		}
	}
}

func testCollect(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	live := swarm.SwarmKey{Stream: "live", Rendition: "index"}
	banned := swarm.SwarmKey{Stream: "banned", Rendition: "index"}
	must(t, s.AddPeer(ctx, swarmA, peer("1", 4)))
	_, err := s.RemovePeer(ctx, swarmA, "1", t0)
	must(t, err)
	must(t, s.AddPeer(ctx, live, peer("1", 4)))
	must(t, s.Ban(ctx, banned, swarm.Ban{Addr: "x", Until: t0.Add(2 * time.Hour)}))
	names := func() []string {
		all, err := s.Swarms(ctx)
		must(t, err)
		var out []string
		for _, sw := range all {
			out = append(out, sw.Swarm.Stream)
		}
		return out
	}
	must(t, s.Collect(ctx, t0.Add(5*time.Minute), 10*time.Minute))
	if got := names(); !slices.Equal(got, []string{"banned", "demo", "live"}) {
		t.Fatalf("before ttl: %v", got)
	}
	must(t, s.Collect(ctx, t0.Add(11*time.Minute), 10*time.Minute))
	if got := names(); !slices.Equal(got, []string{"banned", "live"}) {
		t.Fatalf("after ttl: %v", got)
	}
	must(t, s.Collect(ctx, t0.Add(3*time.Hour), 10*time.Minute))
	if got := names(); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("after ban expiry: %v", got)
	}
	if b, _ := s.Banned(ctx, banned, "", "x", t0); b {
		t.Fatal("collected ban still applies")
	}
}

func testConcurrent(t *testing.T, s swarm.Store) {
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.AddPeer(ctx, swarmA, peer(id, 5)); err != nil {
					t.Error(err)
					return
				}
				open, _ := s.OpenPeers(ctx, swarmA, uint64(i), 3)
				for _, o := range open {
					if o.ID != id {
						s.Link(ctx, swarmA, id, o.ID)
					}
				}
				s.UpdateStats(ctx, swarmA, id, swarm.Counters{BytesCDN: 1})
				if i%3 == 0 {
					if _, err := s.RemovePeer(ctx, swarmA, id, t0); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	all, err := s.Swarms(ctx)
	must(t, err)
	if len(all) != 1 || all[0].BytesCDN != 4*n {
		t.Fatalf("totals %+v, want %d bytes", all, 4*n)
	}
	// Links are symmetric and point at present peers.
	for w := range 4 {
		for i := range n {
			id := fmt.Sprintf("w%d-%d", w, i)
			nbrs, err := s.Neighbours(ctx, swarmA, id)
			if i%3 == 0 {
				if !errors.Is(err, swarm.ErrPeerNotFound) {
					t.Fatalf("removed peer %s: %v", id, err)
				}
				continue
			}
			must(t, err)
			for _, o := range nbrs {
				if l, _ := s.Linked(ctx, swarmA, o, id); !l {
					t.Fatalf("link %s→%s not symmetric", id, o)
				}
			}
		}
	}
}
