package swarm

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

var (
	demo = SwarmKey{Stream: "demo", Rendition: "index"}
	t0   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// world drives a Core directly and keeps every peer's picture of its neighbours,
// stripe and policy, built only from the welcomes and Outs, as a client would.
type world struct {
	t      *testing.T
	c      *Core
	now    time.Time
	nbrs   map[string]map[string]bool // id → neighbour → initiator
	stripe map[string]signalling.Stripe
	policy map[string]signalling.Policy
	closed map[string]bool
	log    []any // every welcome and Out, for determinism checks
}

func newWorld(t *testing.T, seed uint64, cfg Config) *world {
	t.Helper()
	cfg.Rand = rand.New(rand.NewPCG(seed, seed))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, c: c, now: t0, nbrs: map[string]map[string]bool{},
		stripe: map[string]signalling.Stripe{}, policy: map[string]signalling.Policy{}, closed: map[string]bool{}}
}

func (w *world) tick() time.Time { w.now = w.now.Add(time.Second); return w.now }

func (w *world) joinErr(id, addr string, up int64) (signalling.Welcome, error) {
	return w.joinAt(w.tick(), Peer{ID: id, Addr: addr, UploadCapacity: up})
}

// joinAt joins p at now and records its welcome as the client would.
func (w *world) joinAt(now time.Time, p Peer) (signalling.Welcome, error) {
	wel, outs, err := w.c.Join(now, demo, p)
	if err != nil {
		return wel, err
	}
	w.deliver(outs)
	w.log = append(w.log, wel)
	w.nbrs[p.ID] = map[string]bool{}
	for _, n := range wel.Neighbours {
		w.nbrs[p.ID][n.PeerID] = n.Initiator
	}
	w.stripe[p.ID], w.policy[p.ID] = wel.Stripe, wel.Policy
	return wel, nil
}

func (w *world) join(id, addr string, up int64) signalling.Welcome {
	w.t.Helper()
	wel, err := w.joinErr(id, addr, up)
	if err != nil {
		w.t.Fatalf("join %s: %v", id, err)
	}
	return wel
}

func (w *world) leave(id string) {
	w.t.Helper()
	outs, err := w.c.Leave(w.tick(), demo, id)
	if err != nil {
		w.t.Fatal(err)
	}
	w.gone(id)
	w.deliver(outs)
}

func (w *world) gone(id string) {
	delete(w.nbrs, id)
	delete(w.stripe, id)
	delete(w.policy, id)
}

func (w *world) handle(from string, m signalling.Message) []Out {
	outs := w.c.Handle(w.tick(), demo, from, m)
	w.deliver(outs)
	return outs
}

func (w *world) deliver(outs []Out) {
	for _, o := range outs {
		w.log = append(w.log, o)
		if o.Swarm != demo {
			w.t.Fatalf("out for swarm %v", o.Swarm)
		}
		if _, live := w.nbrs[o.To]; !live {
			w.t.Fatalf("out %T for %s, who is not a member", o.Msg, o.To)
		}
		switch m := o.Msg.(type) {
		case *signalling.Neighbours:
			for _, id := range m.Remove {
				delete(w.nbrs[o.To], id)
			}
			for _, a := range m.Add {
				w.nbrs[o.To][a.PeerID] = a.Initiator
			}
		case *signalling.Stripe:
			w.stripe[o.To] = *m
		case *signalling.Policy:
			w.policy[o.To] = *m
		}
		if o.Close {
			w.closed[o.To] = true
			w.gone(o.To)
		}
	}
}

// check asserts that every peer's picture matches the store and that links are
// symmetric with exactly one initiator.
func (w *world) check() {
	w.t.Helper()
	for id, v := range w.nbrs {
		want, err := w.c.Store().Neighbours(w.c.ctx, demo, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(v)); !slices.Equal(got, want) {
			w.t.Fatalf("%s sees %v, store has %v", id, got, want)
		}
		for n, init := range v {
			if w.nbrs[n][id] == init {
				w.t.Fatalf("link %s–%s: both initiator=%v", id, n, init)
			}
		}
	}
}

func (w *world) seeders() map[string]signalling.Stripe {
	out := map[string]signalling.Stripe{}
	for id, s := range w.stripe {
		if s.Count > 0 {
			out[id] = s
		}
	}
	return out
}

func TestJoinLeaveIntroduces(t *testing.T) {
	w := newWorld(t, 1, Config{MaxNeighbours: 4})
	if wel := w.join("a", "10.0.0.1", 1e6); len(wel.Neighbours) != 0 || wel.PeerID != "a" {
		t.Fatalf("first welcome %+v", wel)
	}
	wel := w.join("b", "10.0.1.1", 1e6)
	if len(wel.Neighbours) != 1 || wel.Neighbours[0] != (signalling.Neighbour{PeerID: "a", Initiator: true}) {
		t.Fatalf("second welcome %+v: the later joiner initiates", wel)
	}
	if !reflect.DeepEqual(w.nbrs["a"], map[string]bool{"b": false}) {
		t.Fatalf("a was told %v", w.nbrs["a"])
	}
	for i := range 6 {
		w.join(fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.1", i+2), 1e6)
		w.check()
	}
	for id, v := range w.nbrs {
		if len(v) == 0 || len(v) > 4 {
			t.Fatalf("%s has %d neighbours (bound 4)", id, len(v))
		}
	}
	before := maps.Clone(w.nbrs["a"])
	w.leave("a")
	w.check()
	for n := range before {
		if _, still := w.nbrs[n]["a"]; still {
			t.Fatalf("%s not told that a left", n)
		}
	}
	if outs, err := w.c.Leave(w.tick(), demo, "a"); err != nil || len(outs) != 0 {
		t.Fatalf("second leave: %v %v", outs, err)
	}
	if _, _, err := w.c.Join(w.tick(), demo, Peer{ID: "b"}); !errors.Is(err, ErrPeerExists) {
		t.Fatalf("duplicate id: %v", err)
	}
}

func TestStripesAssignedAndReassigned(t *testing.T) {
	w := newWorld(t, 2, Config{})
	for i := range 40 {
		up := int64(i*7%40+1) * 1e6
		if i%5 == 0 {
			up = 0
		}
		w.join(fmt.Sprintf("p%02d", i), fmt.Sprintf("10.0.%d.1", i), up)
		if err := partition(w.seeders()); err != nil {
			t.Fatalf("after %d joins: %v", i+1, err)
		}
	}
	before := w.seeders()
	if len(before) != SeedCount(40) {
		t.Fatalf("%d seeders for 40 peers, want %d", len(before), SeedCount(40))
	}
	var gone string
	for _, id := range slices.Sorted(maps.Keys(before)) {
		gone = id
		break
	}
	w.leave(gone)
	after := w.seeders()
	if err := partition(after); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for id, s := range after {
		if old, was := before[id]; !was {
			moved++
			if s != before[gone] {
				t.Fatalf("heir %s got %+v, the leaver had %+v", id, s, before[gone])
			}
		} else if old != s {
			t.Fatalf("staying seeder %s moved %+v → %+v", id, old, s)
		}
	}
	if moved != 1 {
		t.Fatalf("%d new seeders after one left", moved)
	}
}

func TestReportsBan(t *testing.T) {
	w := newWorld(t, 3, Config{BanDuration: time.Hour, MaxStrikes: 3})
	w.join("a", "10.0.0.1", 1e6)
	w.join("b", "10.0.1.1", 1e6)
	w.join("bad", "10.0.2.1", 1e6)
	w.join("c", "10.0.3.1", 1e6)
	report := func(from string) []Out {
		return w.handle(from, &signalling.Report{Peer: "bad", Segment: "0-1", Piece: 3})
	}
	if outs := report("a"); len(outs) != 0 || w.closed["bad"] {
		t.Fatalf("one report: %v", outs)
	}
	if outs := report("a"); len(outs) != 0 || w.closed["bad"] {
		t.Fatalf("same address twice is still one reporter: %v", outs)
	}
	outs := report("b")
	if !w.closed["bad"] {
		t.Fatalf("two reporters: not banned: %v", outs)
	}
	last := outs[len(outs)-1]
	if _, ok := last.Msg.(*signalling.Banned); !ok || last.To != "bad" || !last.Close {
		t.Fatalf("last out %+v, want the ban", last)
	}
	w.check() // its neighbours were told
	if w.c.Members(demo) != 3 {
		t.Fatalf("%d members after the ban", w.c.Members(demo))
	}
	if _, err := w.joinErr("bad2", "10.0.2.1", 1e6); !errors.Is(err, ErrBanned) {
		t.Fatalf("rejoin from the banned address: %v", err)
	}
	w.now = w.now.Add(time.Hour)
	w.join("bad2", "10.0.2.1", 1e6) // the ban has expired

	// A self-report and a report about a stranger are refused.
	if outs := w.handle("a", &signalling.Report{Peer: "a", Segment: "s", Piece: 0}); errCode(outs) != signalling.CodeBadMessage {
		t.Fatalf("self report: %v", outs)
	}
	if outs := w.handle("a", &signalling.Report{Peer: "nobody", Segment: "s", Piece: 0}); errCode(outs) != signalling.CodeUnknownPeer {
		t.Fatalf("unknown target: %v", outs)
	}
}

func errCode(outs []Out) string {
	if len(outs) != 1 {
		return fmt.Sprintf("%d outs", len(outs))
	}
	if e, ok := outs[0].Msg.(*signalling.Error); ok {
		return e.Code
	}
	return fmt.Sprintf("%T", outs[0].Msg)
}

func TestPolicyP2POff(t *testing.T) {
	w := newWorld(t, 4, Config{MaxNeighbours: 6})
	for i := range 20 {
		w.join(fmt.Sprintf("p%02d", i), fmt.Sprintf("10.0.%d.1", i), int64(i+1)*1e6)
	}
	w.deliver(w.c.SetPolicy(w.tick(), "demo", signalling.Policy{P2PEnabled: false}))
	w.check()
	for id := range w.nbrs {
		if len(w.nbrs[id]) != 0 || w.stripe[id] != (signalling.Stripe{}) || w.policy[id].P2PEnabled {
			t.Fatalf("%s after P2P off: links %v, stripe %+v, policy %+v", id, w.nbrs[id], w.stripe[id], w.policy[id])
		}
	}
	if wel := w.join("late", "10.1.0.1", 100e6); len(wel.Neighbours) != 0 || wel.Stripe != (signalling.Stripe{}) {
		t.Fatalf("joined with P2P off: %+v", wel)
	}
	w.deliver(w.c.SetPolicy(w.tick(), "demo", signalling.Policy{P2PEnabled: true, Neighbours: 99}))
	w.check()
	if p := w.policy["late"]; !p.P2PEnabled || p.Neighbours != 6 {
		t.Fatalf("policy not normalised to MaxNeighbours: %+v", p)
	}
	seeders := w.seeders()
	if err := partition(seeders); err != nil || len(seeders) != SeedCount(21) {
		t.Fatalf("after P2P on: %v %v", seeders, err)
	}
	if _, ok := seeders["late"]; !ok {
		t.Fatal("the strongest peer does not seed")
	}
	for id, v := range w.nbrs {
		if len(v) == 0 {
			t.Fatalf("%s isolated after P2P on", id)
		}
	}
}

func TestRelayOnlyIntroduced(t *testing.T) {
	w := newWorld(t, 5, Config{MaxNeighbours: 2}) // join target 1: a–b, then c links to one
	w.join("a", "10.0.0.1", 1e6)
	w.join("b", "10.0.1.1", 1e6)
	w.join("c", "10.0.2.1", 1e6)
	data := signalling.SignalData{Type: signalling.SignalOffer, SDP: "v=0"}
	outs := w.handle("b", &signalling.Signal{To: "a", Data: data})
	if len(outs) != 1 || outs[0].To != "a" || !reflect.DeepEqual(outs[0].Msg, &signalling.Signal{From: "b", Data: data}) {
		t.Fatalf("relay between neighbours: %+v", outs)
	}
	var stranger string
	for _, id := range []string{"a", "b"} {
		if _, linked := w.nbrs["c"][id]; !linked {
			stranger = id
		}
	}
	if stranger == "" {
		t.Fatal("setup: c linked to both")
	}
	if outs := w.handle("c", &signalling.Signal{To: stranger, Data: data}); errCode(outs) != signalling.CodeNotNeighbour {
		t.Fatalf("relay to a stranger: %+v", outs)
	}
	w.leave("a")
	if outs := w.handle("b", &signalling.Signal{To: "a", Data: data}); errCode(outs) != signalling.CodeNotNeighbour {
		t.Fatalf("relay to a peer that left: %+v", outs)
	}
}

// TestDeterministic: the same seed and events give the same welcomes and Outs.
func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []any {
		w := newWorld(t, seed, Config{MaxNeighbours: 5})
		rnd := rand.New(rand.NewPCG(9, 9))
		var ids []string
		for i := range 300 {
			if len(ids) > 10 && rnd.IntN(3) == 0 {
				j := rnd.IntN(len(ids))
				w.leave(ids[j])
				ids = slices.Delete(ids, j, j+1)
				continue
			}
			id := fmt.Sprintf("p%03d", i)
			w.join(id, fmt.Sprintf("10.%d.%d.1", i%3, i), int64(rnd.IntN(5))*1e6)
			ids = append(ids, id)
			if i == 150 {
				w.deliver(w.c.SetPolicy(w.tick(), "demo", signalling.Policy{P2PEnabled: true, Neighbours: 3}))
			}
		}
		w.check()
		return w.log
	}
	a, b := run(7), run(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different decisions")
	}
	if reflect.DeepEqual(a, run(8)) {
		t.Fatal("the seed changes nothing: neighbour sampling ignores Config.Rand")
	}
}

// A burst of joiners 10 ms apart: the ramp keeps the first peers' free slots for
// later joiners, so the last joiner is linked to peers that joined long before it,
// and a joiner that found fewer open slots than its join target is topped up on its
// next stats.
func TestJoinBurstMixesAgesAndStatsRefill(t *testing.T) {
	w := newWorld(t, 3, Config{MaxNeighbours: 8}) // join target 4
	at := t0
	var short string
	for i := range 40 {
		at = at.Add(10 * time.Millisecond)
		if _, err := w.joinAt(at, Peer{ID: fmt.Sprintf("p%02d", i), Addr: fmt.Sprintf("10.0.%d.1", i), UploadCapacity: 1e6}); err != nil {
			t.Fatal(err)
		}
	}
	w.check()
	for i := range 40 {
		if id := fmt.Sprintf("p%02d", i); short == "" && len(w.nbrs[id]) < 4 {
			short = id
		}
	}
	oldest := "p39"
	for n := range w.nbrs["p39"] {
		oldest = min(oldest, n)
	}
	if oldest > "p29" {
		t.Errorf("the last joiner's oldest neighbour is %s: every neighbour joined within 100 ms of it", oldest)
	}
	if short == "" {
		t.Fatal("every peer reached its join target: the burst did not test the refill")
	}
	have := len(w.nbrs[short])
	outs := w.c.Handle(at.Add(2*time.Second), demo, short, &signalling.Stats{})
	w.deliver(outs)
	w.check()
	if got := len(w.nbrs[short]); got < 4 || got <= have {
		t.Errorf("%s had %d neighbours, %d after its stats: want at least the join target (4)", short, have, got)
	}
}
