package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

// A small discrete-time swarm: every peer runs Schedule each tick; the edge
// answers after a fixed delay; each peer's upload serves requests one after
// another at its upload rate. It checks the properties the scheduler exists
// for: every segment everywhere before its deadline, and few CDN copies.

type simPeer struct {
	id       string
	have     map[uint64]Bitfield
	inflight []Pending
	arrivals map[Pending]time.Time // when an in-flight request's piece lands
	nbrs     []*simPeer
	policy   Policy
	late     int
	edge     int64

	// upload: requests served one after another at the upload rate.
	upq      []upItem
	upFreeAt time.Time
}

type upItem struct {
	to     *simPeer
	req    Pending
	arrive time.Time // the REQUEST reaches us
}

type swarmResult struct {
	copies   float64 // CDN bytes / (segments × size)
	late     int     // segments not complete at their deadline, over all peers
	requests int
	rejected int
}

type swarmConfig struct {
	n, degree, seeders int
	p2p                bool
	leeches            float64 // share of peers that upload nothing
	seederGone         bool    // the owner of stripe 0 never fetches it
}

func runSwarm(t *testing.T, cfg swarmConfig) swarmResult {
	t.Helper()
	n, degree := cfg.n, cfg.degree
	const (
		td           = 2 * time.Second
		segSize      = 500_000 // 2 Mbit/s
		upload       = 375_000 // 1.5 × bitrate, bytes/s
		edgeRTT      = 30 * time.Millisecond
		peerRTT      = 20 * time.Millisecond
		tick         = 10 * time.Millisecond
		segments     = 8
		chokeBacklog = 200 * time.Millisecond
		rejectQueue  = 16 // pieces
	)
	rng := rand.New(rand.NewPCG(1, 2))
	peers := make([]*simPeer, n)
	cands := make([]swarm.Candidate, n)
	for i := range peers {
		peers[i] = &simPeer{id: fmt.Sprintf("p%02d", i), have: map[uint64]Bitfield{}, arrivals: map[Pending]time.Time{}}
		cands[i] = swarm.Candidate{ID: peers[i].id, Upload: upload}
		if float64(i) < cfg.leeches*float64(n) {
			cands[i].Upload = 0
		}
	}
	// Random graph: each peer links to `degree` random others (undirected).
	link := func(a, b *simPeer) {
		if a == b || slices.Contains(a.nbrs, b) {
			return
		}
		a.nbrs = append(a.nbrs, b)
		b.nbrs = append(b.nbrs, a)
	}
	for _, p := range peers {
		for len(p.nbrs) < degree {
			link(p, peers[rng.IntN(n)])
		}
	}
	stripes := swarm.AssignStripes(cands, cfg.seeders)
	for i, p := range peers {
		p.policy = Policy{P2P: cfg.p2p, Stripe: Stripe(stripes[p.id]), NoUpload: cands[i].Upload == 0}
		if cfg.seederGone && p.policy.Stripe.Index == 0 {
			p.policy.Stripe = Stripe{}
		}
	}

	size := int64(segSize)
	var total int64
	var requests, rejected int
	end := t0.Add(segments*td + 3*td)
	for now := t0; now.Before(end); now = now.Add(tick) {
		// Segment s is published at t0 + s·td and due 2·td later (the player
		// sits 3 target durations behind the live edge).
		var window []Segment
		for s := uint64(0); t0.Add(time.Duration(s)*td).Compare(now) <= 0 && s < segments; s++ {
			due := t0.Add(time.Duration(s)*td + 2*td)
			if now.After(due) {
				continue
			}
			window = append(window, Segment{Seq: s, Size: size, Deadline: due})
		}
		// Uploads: serve queued requests that have arrived, in order.
		for _, q := range peers {
			for len(q.upq) > 0 {
				// Serve the most urgent (oldest segment) request that has arrived.
				j := -1
				for x, it := range q.upq {
					if !it.arrive.After(now) && (j < 0 || it.req.Seq < q.upq[j].req.Seq) {
						j = x
					}
				}
				if j < 0 {
					break
				}
				it := q.upq[j]
				start := it.arrive
				if q.upFreeAt.After(start) {
					start = q.upFreeAt
				}
				if start.After(now) {
					break
				}
				q.upq = slices.Delete(q.upq, j, j+1)
				_, nb := Segment{Size: size}.Range(it.req.Piece, 1)
				q.upFreeAt = start.Add(time.Duration(float64(nb) / upload * float64(time.Second)))
				if _, ok := it.to.arrivals[it.req]; ok {
					it.to.arrivals[it.req] = q.upFreeAt.Add(peerRTT / 2)
				}
			}
		}
		// Deliveries.
		for _, p := range peers {
			p.inflight = slices.DeleteFunc(p.inflight, func(pd Pending) bool {
				at, ok := p.arrivals[pd]
				if !ok || at.IsZero() || at.After(now) {
					return false
				}
				delete(p.arrivals, pd)
				b := p.have[pd.Seq]
				if b == nil {
					b = NewBitfield(Segment{Size: size}.Pieces())
					p.have[pd.Seq] = b
				}
				b.Set(pd.Piece)
				return true
			})
			// Pieces that arrived twice are dropped with their requests.
			p.inflight = slices.DeleteFunc(p.inflight, func(pd Pending) bool {
				if p.have[pd.Seq].Has(pd.Piece) {
					delete(p.arrivals, pd)
					return true
				}
				return false
			})
		}
		// Deadlines.
		for s := uint64(0); s < segments; s++ {
			if due := t0.Add(time.Duration(s)*td + 2*td); !due.Equal(now) {
				continue
			}
			want := Segment{Size: size}.Pieces()
			for _, p := range peers {
				if p.have[s].Count() != want {
					p.late++
				}
			}
		}
		// Decisions.
		for _, p := range peers {
			st := State{Now: now, Self: p.id, Policy: p.policy, InFlight: p.inflight}
			for _, w := range window {
				w.Have = p.have[w.Seq]
				st.Segments = append(st.Segments, w)
			}
			for _, q := range p.nbrs {
				// A peer whose upload backlog exceeds chokeBacklog refuses
				// more requests, as the engine's bounded upload queue does.
				backlog := time.Duration(float64(len(q.upq)*DefaultPieceSize) / upload * float64(time.Second))
				st.Neighbours = append(st.Neighbours, Neighbour{ID: q.id, Have: HavesOf(q.have), Throughput: upload / 2, RTT: peerRTT, Choking: backlog > chokeBacklog, NoUpload: q.policy.NoUpload})
			}
			plan := Schedule(st)
			for _, c := range plan.Cancels {
				p.inflight = slices.DeleteFunc(p.inflight, func(pd Pending) bool { return pd == c })
				delete(p.arrivals, c)
				for _, q := range p.nbrs {
					q.upq = slices.DeleteFunc(q.upq, func(it upItem) bool { return it.to == p && it.req == c })
				}
			}
			for _, r := range plan.Edge {
				_, nb := Segment{Size: size}.Range(r.First, r.Count)
				p.edge += nb
				at := now.Add(edgeRTT + time.Duration(float64(nb)/(4<<20)*float64(time.Second)))
				for i := r.First; i < r.First+r.Count; i++ {
					pd := Pending{r.Seq, i, Edge, now}
					p.inflight = append(p.inflight, pd)
					p.arrivals[pd] = at
				}
			}
			for _, r := range plan.Requests {
				requests++
				var q *simPeer
				for _, x := range p.nbrs {
					if x.id == r.From {
						q = x
					}
				}
				for i := r.First; i < r.First+r.Count; i++ {
					pd := Pending{r.Seq, i, r.From, now}
					if len(q.upq) >= rejectQueue {
						rejected++ // the uploader's queue is bounded: REJECT
						continue
					}
					p.inflight = append(p.inflight, pd)
					p.arrivals[pd] = time.Time{} // not sent yet
					q.upq = append(q.upq, upItem{p, pd, now.Add(peerRTT / 2)})
				}
			}
		}
	}
	var late int
	for _, p := range peers {
		total += p.edge
		late += p.late
	}
	return swarmResult{copies: float64(total) / float64(segments*size), late: late, requests: requests, rejected: rejected}
}

func TestSwarmCDNCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	tests := []struct {
		name                 string
		cfg                  swarmConfig
		minCopies, maxCopies float64
	}{
		{"cdn only: one copy per viewer", swarmConfig{n: 12, degree: 4}, 12, 12},
		{"one neighbourhood, 4 stripes", swarmConfig{n: 8, degree: 7, seeders: 4, p2p: true}, 1, 1.2},
		{"30 peers, degree 6", swarmConfig{n: 30, degree: 6, seeders: swarm.SeedCount(30), p2p: true}, 1, 1.2},
		{"60 peers, degree 5", swarmConfig{n: 60, degree: 5, seeders: swarm.SeedCount(60), p2p: true}, 1, 1.2},
		{"60 peers, degree 12", swarmConfig{n: 60, degree: 12, seeders: swarm.SeedCount(60), p2p: true}, 1, 1.2},
		{"100 peers, degree 8", swarmConfig{n: 100, degree: 8, seeders: swarm.SeedCount(100), p2p: true}, 1, 1.2},
		// Mean upload 1.35× the bitrate and a 2.5 s window: tight, some edge.
		{"60 peers, 10% upload nothing", swarmConfig{n: 60, degree: 8, seeders: swarm.SeedCount(60), p2p: true, leeches: 0.1}, 1, 2},
		// A seeder gone before the tracker noticed: its stripe comes from
		// the staggered fallback, a few copies of one stripe.
		{"60 peers, one seeder gone", swarmConfig{n: 60, degree: 8, seeders: swarm.SeedCount(60), p2p: true, seederGone: true}, 1, 3},
		// Without stripes the hashed fallback still saves, but far less.
		{"30 peers, no seeders: staggered fallback only", swarmConfig{n: 30, degree: 6, p2p: true}, 1, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled && tt.cfg.n > 30 {
				t.Skip("large swarm: too slow under -race")
			}
			r := runSwarm(t, tt.cfg)
			t.Logf("CDN copies per segment %.2f, late segments %d, requests %d, rejected %d", r.copies, r.late, r.requests, r.rejected)
			if r.late != 0 {
				t.Errorf("%d segment deadlines missed", r.late)
			}
			if r.copies < tt.minCopies-1e-9 || r.copies > tt.maxCopies+1e-9 {
				t.Errorf("CDN copies per segment %.2f, want in [%.2f, %.2f]", r.copies, tt.minCopies, tt.maxCopies)
			}
		})
	}
}
