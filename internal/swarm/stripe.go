package swarm

import (
	"cmp"
	"hash/fnv"
	"slices"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// SeedCount is the number of seeders for a swarm of n peers. Up to 2 ×
// seedGroup peers, about one per 8 peers (at least 2 when n allows), each its
// own stripe: more stripes start the epidemic from more places, so a segment
// reaches every peer in fewer hops. Above that, MaxStripes stripes with
// seedReplicas(n) seeders each, one seeded copy per ~seedGroup peers, so no
// copy has to spread further than in a swarm of seedGroup, whatever n is
// (docs/tracker.md "Seeding"). Each seeder makes one HTTP request per segment.
func SeedCount(n int) int {
	if n > 2*seedGroup {
		return MaxStripes * seedReplicas(n)
	}
	return max(min(n, 2), min(MaxStripes, (n+7)/8))
}

// MaxStripes bounds the stripes a segment is cut into.
const MaxStripes = 32

// seedGroup is the audience one seeded copy of a stripe serves in a large
// swarm (docs/tracker.md "Tuning history": 64 against 32 and 128).
const seedGroup = 64

// seedReplicas is the seeders per stripe for n peers: ceil(n/seedGroup)
// rounded up to four significant bits (at most 12.5% more), so that it
// changes, and the swarm is re-ranked, only a few times per doubling of n.
func seedReplicas(n int) int {
	r := (n + seedGroup - 1) / seedGroup
	step := 1
	for r/step >= 16 {
		step *= 2
	}
	return (r + step - 1) / step * step
}

// stripeCount is the number of stripes k seeders cut segments into.
func stripeCount(k int) int { return min(k, MaxStripes) }

// Candidate is a swarm member the tracker may designate as a seeder.
type Candidate struct {
	ID     string
	Upload float64 // upload capacity, bytes/s; <= 0 never seeds
}

// AssignStripes is the tracker's deterministic seeding rule: the k candidates
// with the largest upload (ties broken by a hash of the id, so the choice is
// stable and spread out) each get a different stripe. If fewer than k can
// upload, the stripes are split among those that can, so every piece of every
// segment has exactly one seeder and the swarm pulls about one CDN copy.
// The result maps peer id → Stripe; peers not in it do not seed.
func AssignStripes(cands []Candidate, k int) map[string]signalling.Stripe {
	up := make([]ranked, 0, len(cands))
	for _, c := range cands {
		if c.Upload > 0 {
			up = append(up, rank(c))
		}
	}
	slices.SortFunc(up, compareRank)
	k = min(k, len(up))
	out := make(map[string]signalling.Stripe, k)
	sc := stripeCount(k)
	for j := range k {
		out[up[j].ID] = signalling.Stripe{Index: j % sc, Count: sc}
	}
	return out
}

// ranked is a candidate with its tie-break hash computed once.
type ranked struct {
	Candidate
	hash uint64
}

func rank(c Candidate) ranked { return ranked{c, idHash(c.ID)} }

// compareRank orders by upload, largest first, then by id hash: AssignStripes' order.
func compareRank(a, b ranked) int {
	return cmp.Or(cmp.Compare(b.Upload, a.Upload), cmp.Compare(a.hash, b.hash))
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return mix(h.Sum64())
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
