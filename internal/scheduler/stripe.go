package scheduler

import (
	"cmp"
	"hash/fnv"
	"slices"
)

// StripeOf is the stripe (0..count-1) that piece i of a segment of n pieces
// belongs to: stripes are contiguous blocks of pieces (one HTTP Range each),
// rotated by seq so that no seeder always carries the same part of every
// segment. For count <= 0 it returns 0.
func StripeOf(seq uint64, i, n, count int) int {
	if count <= 1 || n <= 0 {
		return 0
	}
	block := i * count / n
	return int((uint64(block) + seq) % uint64(count))
}

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
func AssignStripes(cands []Candidate, k int) map[string]Stripe {
	up := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if c.Upload > 0 {
			up = append(up, c)
		}
	}
	slices.SortFunc(up, func(a, b Candidate) int {
		if c := cmp.Compare(b.Upload, a.Upload); c != 0 {
			return c
		}
		return cmp.Compare(idHash(a.ID), idHash(b.ID))
	})
	if k > len(up) {
		k = len(up)
	}
	out := make(map[string]Stripe, k)
	for j := range k {
		out[up[j].ID] = Stripe{Index: j, Count: k}
	}
	return out
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return mix(h.Sum64())
}

// pieceHash is a well-mixed 64-bit hash of (peer, seq, piece): it orders
// otherwise-equal pieces differently on every peer and staggers edge fallbacks.
func pieceHash(self uint64, seq uint64, piece int) uint64 {
	return mix(self ^ mix(seq*0x9e3779b97f4a7c15^uint64(piece)))
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
