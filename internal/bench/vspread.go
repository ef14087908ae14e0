package bench

import (
	"slices"
	"time"
)

// spread times how fast fresh pieces reach the audience (virtual clock): for
// every piece, from its first copy leaving the edge to the moment the last
// viewer that was already watching then verified it. Viewers that joined
// later fetch it as an old piece and are left out.
type spread struct {
	first map[spreadKey]int64 // ns: the first copy left the edge
	last  map[spreadKey]int64 // ns: the latest verification by an earlier viewer
}

type spreadKey struct {
	seq uint64
	idx int
}

func newSpread() *spread {
	return &spread{first: make(map[spreadKey]int64), last: make(map[spreadKey]int64)}
}

// served: pieces [first, first+count) of seq left the edge at now.
func (s *spread) served(seq uint64, first, count int, now int64) {
	for i := first; i < first+count; i++ {
		k := spreadKey{seq, i}
		if _, ok := s.first[k]; !ok {
			s.first[k] = now
		}
	}
}

// verified: a viewer that joined at joined verified piece idx of seq at now.
func (s *spread) verified(seq uint64, idx int, joined, now int64) {
	k := spreadKey{seq, idx}
	if f, ok := s.first[k]; ok && joined <= f && now > s.last[k] {
		s.last[k] = now
	}
}

// percentiles returns the p50 and p95 of the pieces' times to reach everyone.
func (s *spread) percentiles() (p50, p95 time.Duration) {
	d := make([]int64, 0, len(s.last))
	for k, l := range s.last {
		d = append(d, l-s.first[k])
	}
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return time.Duration(d[min(len(d)-1, int(q*float64(len(d))))]) }
	return at(0.50), at(0.95)
}
