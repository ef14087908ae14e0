package swarm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestAddrPrefix(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"10.1.2.3", "10.1.2.0/24"},
		{"::ffff:10.1.2.3", "10.1.2.0/24"},
		{"2001:db8:1:2::5", "2001:db8:1::/48"},
		{"nonsense", ""},
	} {
		if got := addrPrefix(tc.addr); got != tc.want {
			t.Errorf("addrPrefix(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestChooseLocalityFirst(t *testing.T) {
	me := Peer{ID: "me", Region: "eu", Addr: "10.1.2.3"}
	cands := []Peer{
		{ID: "far-strong", Addr: "192.0.2.1", UploadCapacity: 100e6, Limit: 10},
		{ID: "same-prefix", Addr: "10.1.2.77", UploadCapacity: 1e6, Limit: 10},
		{ID: "same-region", Region: "eu", Addr: "198.51.100.1", UploadCapacity: 1e6, Limit: 10},
		{ID: "full-region", Region: "eu", Addr: "198.51.100.2", UploadCapacity: 1e6, Limit: 3, Degree: 3},
		{ID: "v6-same48", Addr: "2001:db8:1:9::1", Limit: 10},
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		me   Peer
		want int
		out  []string
	}{
		{"region then prefix then rest", me, 3, []string{"same-region", "same-prefix", "far-strong"}},
		{"only the best tier", me, 1, []string{"same-region"}},
		{"ipv6 /48", Peer{ID: "me6", Addr: "2001:db8:1:7::9"}, 1, []string{"v6-same48"}},
		{"nothing wanted", me, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := choose(tc.me, cands, nil, tc.want, rnd, time.Time{})
			if len(got) != len(tc.out) {
				t.Fatalf("got %v, want %v", ids(got), tc.out)
			}
			for i := range got {
				if got[i].ID != tc.out[i] {
					t.Fatalf("got %v, want %v", ids(got), tc.out)
				}
			}
		})
	}
}

func ids(ps []Peer) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestChooseMixesCapacities(t *testing.T) {
	var cands []Peer
	for i := range 20 {
		cands = append(cands, Peer{ID: fmt.Sprintf("p%02d", i), UploadCapacity: int64(i+1) * 1e6, Limit: 10})
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	strongest, notTop := 0, 0
	for range 200 {
		got := choose(Peer{ID: "me"}, cands, map[string]bool{"p19": true}, 4, rnd, time.Time{})
		if len(got) != 4 {
			t.Fatalf("got %d", len(got))
		}
		if got[0].ID != "p18" { // p19 skipped
			t.Fatalf("first pick %s, want the strongest allowed", got[0].ID)
		}
		strongest++
		for _, p := range got[1:] {
			if p.UploadCapacity < 10e6 {
				notTop++
			}
		}
	}
	if notTop == 0 {
		t.Fatal("never mixed in weaker peers: everyone would pile onto the strongest")
	}
}

func TestPeerLimit(t *testing.T) {
	for _, tc := range []struct {
		cap, mean int64
		bound     int
		want      int
	}{
		{10e6, 5e6, 9, 9}, {1e6, 5e6, 9, 6}, {0, 0, 10, 10}, {1, 5, 1, 1}, {5, 5, 0, 0},
	} {
		if got := peerLimit(tc.cap, tc.mean, tc.bound); got != tc.want {
			t.Errorf("peerLimit(%d, %d, %d) = %d, want %d", tc.cap, tc.mean, tc.bound, got, tc.want)
		}
	}
}

func TestJoinTimingIndependent(t *testing.T) {
	// initiator is decided by join time, then id, so it is antisymmetric even with
	// equal clocks.
	t0 := time.Unix(100, 0)
	a, b := Peer{ID: "a", Joined: t0}, Peer{ID: "b", Joined: t0}
	if initiates(a, b) == initiates(b, a) {
		t.Fatal("tie not broken")
	}
	c := Peer{ID: "0", Joined: t0.Add(time.Nanosecond)}
	if !initiates(c, a) || initiates(a, c) {
		t.Fatal("later joiner must initiate")
	}
}

// TestChoosePositionNear: between viewers of a title, those that play near us come
// first (clock included: a peer that said 100 s a minute ago plays at 160 s), one
// behind us counts double, and a peer without a position comes last. Live viewers
// (no position) are chosen as before.
func TestChoosePositionNear(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(id string, pos float64, said time.Time) Peer {
		return Peer{ID: id, Addr: "10.0.0.1", Limit: 10, UploadCapacity: 1e6, Pos: pos, PosAt: said}
	}
	me := at("me", 200, t0.Add(time.Minute))
	cands := []Peer{
		at("far-ahead", 400, t0.Add(time.Minute)),
		at("ahead-5s", 145, t0), // 205 s now
		{ID: "live", Addr: "10.0.0.1", Limit: 10, UploadCapacity: 100e6},
		at("behind-8s", 192, t0.Add(time.Minute)), // counts as 16 s
		at("ahead-12s", 212, t0.Add(time.Minute)),
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	got := ids(choose(me, cands, nil, 5, rnd, time.Time{}))
	want := []string{"ahead-5s", "ahead-12s", "behind-8s", "far-ahead", "live"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if d, ok := me.Ahead(cands[1]); !ok || d != 5 {
		t.Fatalf("Ahead = %v %v, want 5 true", d, ok)
	}
	// A live viewer: every candidate in one tier, the strongest first as ever.
	if got := choose(Peer{ID: "x", Addr: "10.0.0.9"}, cands, nil, 1, rnd, time.Time{}); got[0].ID != "live" {
		t.Fatalf("live viewer got %v, want the strongest", ids(got))
	}
}

func TestTakesRampsLinksBeyondTheJoinTarget(t *testing.T) {
	joined := time.Unix(1000, 0)
	p := Peer{ID: "p", Limit: 10, Joined: joined} // join target 5
	for _, tc := range []struct {
		degree int
		age    time.Duration
		want   bool
	}{
		{4, 0, true},             // below the join target: always
		{5, 0, false},            // the target reached: not at once
		{5, linkRamp - 1, false}, //
		{5, linkRamp, true},      // one more per linkRamp of age
		{6, linkRamp, false},     //
		{9, 5 * linkRamp, true},  //
		{10, time.Hour, false},   // never beyond the limit
	} {
		p.Degree = tc.degree
		if got := takes(p, joined.Add(tc.age)); got != tc.want {
			t.Errorf("degree %d, age %v: takes = %v, want %v", tc.degree, tc.age, got, tc.want)
		}
	}
	p.Degree = 9
	if !takes(p, time.Time{}) {
		t.Error("no time given: the limit alone should count")
	}
}
