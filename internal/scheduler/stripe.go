package scheduler

import "hash/fnv"

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

// idHash is a well-mixed hash of a peer id.
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
