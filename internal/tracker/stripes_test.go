package tracker

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// partition fails unless assignment is a partition: one Count shared by all, indices
// exactly 0..Count-1.
func partition(assignment map[string]Stripe) error {
	seen := make([]bool, len(assignment))
	for id, s := range assignment {
		if s.Count != len(assignment) || s.Index < 0 || s.Index >= s.Count || seen[s.Index] {
			return fmt.Errorf("%s has %+v in %v", id, s, assignment)
		}
		seen[s.Index] = true
	}
	return nil
}

// stripeWatch follows what each client was told about its stripe: the welcome, then
// every stripe message, read continuously by one goroutine per client.
type stripeWatch struct {
	t    *testing.T
	ctx  context.Context
	wg   sync.WaitGroup
	mu   sync.Mutex
	up   map[string]int64  // joined capacity of every live client
	cur  map[string]Stripe // latest assignment per live client
	msgs map[string]int    // stripe messages received per client
}

func newStripeWatch(t *testing.T) *stripeWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &stripeWatch{t: t, ctx: ctx, up: map[string]int64{}, cur: map[string]Stripe{}, msgs: map[string]int{}}
	t.Cleanup(func() { cancel(); w.wg.Wait() })
	return w
}

func (w *stripeWatch) dial(h *harness, up int64) *Client {
	j := join(demo)
	j.UploadCapacity = up
	c := h.dial(j, "")
	id := c.ID()
	w.mu.Lock()
	w.up[id], w.cur[id] = up, c.Welcome().Stripe
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			m, err := c.Recv(w.ctx)
			if err != nil {
				return
			}
			if s, ok := m.(*Stripe); ok {
				w.mu.Lock()
				if _, live := w.up[id]; live {
					w.cur[id] = *s
				}
				w.msgs[id]++
				w.mu.Unlock()
			}
		}
	}()
	return c
}

func (w *stripeWatch) leave(c *Client) {
	w.t.Helper()
	w.mu.Lock()
	delete(w.up, c.ID())
	delete(w.cur, c.ID())
	w.mu.Unlock()
	if err := c.Close(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *stripeWatch) seeders() map[string]Stripe {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]Stripe{}
	for id, s := range w.cur {
		if s.Count > 0 {
			out[id] = s
		}
	}
	return out
}

func (w *stripeWatch) messages() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.msgs)
}

// expected is the seeder set the peers must see: the SeedCount(n) strongest uploaders
// (the tests use distinct non-zero capacities, so no tie-break is involved).
func (w *stripeWatch) expected() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := slices.Collect(maps.Keys(w.up))
	ids = slices.DeleteFunc(ids, func(id string) bool { return w.up[id] <= 0 })
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(w.up[b], w.up[a]) })
	return slices.Sorted(slices.Values(ids[:min(len(ids), swarm.SeedCount(len(w.up)))]))
}

// settled waits until the clients' picture is the rule's: exactly the expected peers
// seed, with one Count and indices 0..Count-1. Only a consistent state is accepted, so
// messages still in flight cannot make it pass early.
func (w *stripeWatch) settled() map[string]Stripe {
	w.t.Helper()
	var got map[string]Stripe
	var want []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, want = w.seeders(), w.expected()
		err := partition(got)
		if err == nil && slices.Equal(slices.Sorted(maps.Keys(got)), want) {
			return got
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("seeders %v, want %v (%v)", got, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStripesInSwarm(t *testing.T) {
	h := newHarness(t, Config{})
	w := newStripeWatch(t)
	clients := map[string]*Client{}
	// 20 peers; every fourth uploads nothing (the first one too, so a swarm can start
	// without any seeder); the others have distinct capacities in shuffled order.
	for i := range 20 {
		up := int64(i*7%20+1) * 1e6
		if i%4 == 0 {
			up = 0
		}
		c := w.dial(h, up)
		clients[c.ID()] = c
		if up == 0 && c.Welcome().Stripe != (Stripe{}) {
			t.Fatalf("zero-upload peer welcomed as seeder %+v", c.Welcome().Stripe)
		}
	}
	seeders := w.settled()
	if len(seeders) != swarm.SeedCount(20) {
		t.Fatalf("%d seeders for 20 peers, want %d", len(seeders), swarm.SeedCount(20))
	}

	t.Run("seeder leaves", func(t *testing.T) {
		before, msgs := w.settled(), w.messages()
		var gone string
		for id := range before {
			gone = id
			break
		}
		w.leave(clients[gone])
		delete(clients, gone)
		after := w.settled()
		var heir string
		for id, s := range after {
			if _, was := before[id]; !was {
				heir = id
				if s != before[gone] {
					t.Fatalf("heir got %+v, the leaver had %+v", s, before[gone])
				}
			} else if s != before[id] {
				t.Fatalf("staying seeder %s moved %+v → %+v", id, before[id], s)
			}
		}
		if heir == "" {
			t.Fatalf("nobody took over %+v: %v", before[gone], after)
		}
		time.Sleep(100 * time.Millisecond) // let any needless message arrive
		now := w.messages()
		for id := range clients {
			if want := msgs[id] + map[bool]int{true: 1}[id == heir]; now[id] != want {
				t.Fatalf("%s got %d stripe messages, want %d", id, now[id]-msgs[id], want-msgs[id])
			}
		}
	})

	t.Run("strong newcomer", func(t *testing.T) {
		before, msgs := w.settled(), w.messages()
		c := w.dial(h, 100e6)
		clients[c.ID()] = c
		after := w.settled()
		got := c.Welcome().Stripe
		if got.Count != len(before) || after[c.ID()] != got {
			t.Fatalf("strongest newcomer welcomed with %+v; seeders now %v", got, after)
		}
		var dropped string
		for id, s := range before {
			if _, still := after[id]; !still {
				dropped = id
				if s != got {
					t.Fatalf("newcomer took %+v, the dropped seeder had %+v", got, s)
				}
			}
		}
		eventually(t, "dropped seeder told count 0", func() bool { return w.messages()[dropped] == msgs[dropped]+1 })
		if got := w.messages()[c.ID()]; got != 0 {
			t.Fatalf("newcomer got %d stripe messages besides its welcome", got)
		}
	})

	t.Run("non-seeder leaves", func(t *testing.T) {
		before, msgs := w.settled(), w.messages()
		if swarm.SeedCount(len(clients)-1) != len(before) {
			t.Fatalf("setup: %d peers, %d seeders", len(clients), len(before))
		}
		for id, c := range clients {
			if _, seeds := before[id]; !seeds {
				w.leave(c)
				delete(clients, id)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		if now := w.messages(); !maps.Equal(now, msgs) {
			t.Fatalf("stripe messages after a non-seeder left: %v, before %v", now, msgs)
		}
		if after := w.settled(); !maps.Equal(after, before) {
			t.Fatalf("seeders %v → %v", before, after)
		}
	})

	t.Run("p2p off and on", func(t *testing.T) {
		before := w.settled()
		h.tr.SetPolicy("demo", Policy{P2PEnabled: false})
		eventually(t, "every seeder told count 0", func() bool { return len(w.seeders()) == 0 })
		late := w.dial(h, 200e6)
		clients[late.ID()] = late
		if s := late.Welcome().Stripe; s != (Stripe{}) {
			t.Fatalf("joined with P2P off and welcomed as seeder %+v", s)
		}
		h.tr.SetPolicy("demo", Policy{P2PEnabled: true})
		after := w.settled()
		if _, ok := after[late.ID()]; !ok || len(after) != len(before) {
			t.Fatalf("after P2P on: seeders %v (before %v)", after, before)
		}
	})
	if n := testutil.ToFloat64(h.tr.m.stripes); n == 0 {
		t.Fatal("shoal_tracker_stripe_changes_total not counted")
	}
}

// TestStripesFewUploaders: with fewer uploaders than SeedCount the stripes are split
// among those that can upload (Count shrinks), and a swarm of zero-upload peers has
// no seeder.
func TestStripesFewUploaders(t *testing.T) {
	h := newHarness(t, Config{})
	w := newStripeWatch(t)
	for range 5 {
		if s := w.dial(h, 0).Welcome().Stripe; s != (Stripe{}) {
			t.Fatalf("zero-upload peer welcomed with %+v", s)
		}
	}
	one := w.dial(h, 5e6)
	if s := one.Welcome().Stripe; s != (Stripe{Index: 0, Count: 1}) {
		t.Fatalf("only uploader welcomed with %+v, want the whole segment", s)
	}
	two := w.dial(h, 3e6) // SeedCount(7) = 2: now two stripes
	if s := two.Welcome().Stripe; s.Count != 2 {
		t.Fatalf("second uploader welcomed with %+v", s)
	}
	w.settled()
	w.leave(one)
	got := w.settled() // two is alone again: the whole segment
	if got[two.ID()] != (Stripe{Index: 0, Count: 1}) {
		t.Fatalf("after the other uploader left: %v", got)
	}
}
