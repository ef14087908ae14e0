package swarm

import (
	"cmp"
	"hash/fnv"
	"slices"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// SeedCount is the number of stripes (seeders) suggested for a swarm of n
// peers: about one per 8 peers, at least 2 (when n allows), at most 32. More
// stripes start the epidemic from more places at once, so a segment reaches
// every peer in fewer hops; each stripe is a separate HTTP request.
func SeedCount(n int) int {
	return max(min(n, 2), min(32, (n+7)/8))
}

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
	for j := range k {
		out[up[j].ID] = signalling.Stripe{Index: j, Count: k}
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
