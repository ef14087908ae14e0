package swarm

import (
	"cmp"
	"slices"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Seeding by stripes (internal/scheduler NOTES §4). Only something that sees the whole
// swarm can give every piece of every segment exactly one seeder, so the tracker picks
// them: AssignStripes over the swarm's members with SeedCount(n) stripes
// (the strongest uploaders; peers with upload 0 never seed). Which peers seed and the
// Count are exactly that rule's; the index of a seeder that stays is kept while Count
// does not change, so a seeder leaving moves one stripe, not every stripe ranked after
// it. Nobody seeds while the stream's P2P is off.
//
// Cost: AssignStripes is O(n log n). A join only re-sorts the current seeders plus the
// newcomer (the top k of the members plus one peer is the top k of the current seeders
// plus that peer), unless SeedCount changes, which stops happening above 248 peers; a
// leave recomputes only when a seeder left or SeedCount changed.

// seeding is one swarm's stripe assignment. It exists while the swarm has members and
// P2P is on, and is guarded by the swarm lock.
type seeding struct {
	target  int // SeedCount(n) of the membership the seeders were chosen from
	seeders map[string]seat
}

type seat struct {
	signalling.Stripe
	upload float64
}

// joined updates the assignment for newcomer p, the swarm now having n members; all
// returns every member (p included) and is called only when the shortcut does not
// apply. It returns the peers whose stripe changed (Count 0: no longer seeds).
func (sd *seeding) joined(p Candidate, n int, all func() []Candidate) map[string]signalling.Stripe {
	k := SeedCount(n)
	if k != sd.target {
		return sd.assign(all(), k)
	}
	if p.Upload <= 0 {
		return nil
	}
	cands := make([]Candidate, 0, len(sd.seeders)+1)
	for id, s := range sd.seeders {
		cands = append(cands, Candidate{ID: id, Upload: s.upload})
	}
	return sd.assign(append(cands, p), k)
}

// left updates the assignment after peer id left, n members remaining (all lists them).
// The peer that left gets no change: it is gone.
func (sd *seeding) left(id string, n int, all func() []Candidate) map[string]signalling.Stripe {
	k := SeedCount(n)
	if _, seeder := sd.seeders[id]; !seeder && k == sd.target {
		return nil
	}
	delete(sd.seeders, id)
	return sd.assign(all(), k)
}

// assign makes the AssignStripes choice over cands the current assignment and returns
// the changes.
func (sd *seeding) assign(cands []Candidate, k int) map[string]signalling.Stripe {
	next := AssignStripes(cands, k)
	count := len(next)
	old := sd.seeders
	oldCount := 0
	for _, s := range old {
		oldCount = s.Count
		break
	}
	seeders := make(map[string]seat, count)
	if count == oldCount {
		// Same partition of the pieces: stayers keep their stripe, newcomers take the
		// freed indices in AssignStripes' rank order.
		used := make([]bool, count)
		var in []string
		for id := range next {
			if s, ok := old[id]; ok {
				seeders[id] = s
				used[s.Index] = true
			} else {
				in = append(in, id)
			}
		}
		slices.SortFunc(in, func(a, b string) int { return cmp.Compare(next[a].Index, next[b].Index) })
		free := 0
		for _, id := range in {
			for used[free] {
				free++
			}
			used[free] = true
			seeders[id] = seat{Stripe: signalling.Stripe{Index: free, Count: count}}
		}
	} else {
		for id, s := range next {
			seeders[id] = seat{Stripe: signalling.Stripe{Index: s.Index, Count: s.Count}}
		}
	}
	for _, c := range cands {
		if s, ok := seeders[c.ID]; ok {
			s.upload = c.Upload
			seeders[c.ID] = s
		}
	}
	changed := make(map[string]signalling.Stripe)
	for id, s := range seeders {
		if o, ok := old[id]; !ok || o.Stripe != s.Stripe {
			changed[id] = s.Stripe
		}
	}
	for id := range old {
		if _, ok := seeders[id]; !ok {
			changed[id] = signalling.Stripe{}
		}
	}
	sd.target, sd.seeders = k, seeders
	return changed
}
