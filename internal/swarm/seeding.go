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
// Cost: AssignStripes is O(n log n), so it runs over all members only when SeedCount
// changes, which stops happening above 248 peers (and when P2P comes back on). The top
// k of the members plus one newcomer is the top k of the current seeders plus that
// newcomer, and the top k after a seeder leaves is the other seeders plus the best
// non-seeder, which an indexed heap of the non-seeding uploaders (reserve) yields: a
// join or leave then costs O(k + log n).

// seeding is one swarm's stripe assignment. It exists while the swarm has members and
// P2P is on, and is guarded by the swarm lock.
type seeding struct {
	target  int // SeedCount(n) of the membership the seeders were chosen from
	seeders map[string]seat
	reserve reserve // the members with upload > 0 that do not seed
}

type seat struct {
	signalling.Stripe
	r ranked
}

// joined updates the assignment for newcomer p, the swarm now having n members; all
// returns every member (p included) and is called only when SeedCount changed. It
// returns the peers whose stripe changed (Count 0: no longer seeds).
func (sd *seeding) joined(p Candidate, n int, all func() []Candidate) map[string]signalling.Stripe {
	k := SeedCount(n)
	if k != sd.target {
		return sd.reset(all(), k)
	}
	if p.Upload <= 0 {
		return nil
	}
	rp := rank(p)
	if len(sd.seeders) >= k && k > 0 && compareRank(rp, sd.weakest()) > 0 {
		sd.reserve.push(rp) // outranked by every seeder: nothing changes
		return nil
	}
	cands := append(sd.seated(), p)
	changed := sd.assign(cands, k)
	for _, c := range cands {
		if _, ok := sd.seeders[c.ID]; !ok {
			sd.reserve.push(rank(c))
		}
	}
	return changed
}

// left updates the assignment after peer id left, n members remaining (all lists them
// and is called only when SeedCount changed). The peer that left gets no change: it
// is gone.
func (sd *seeding) left(id string, n int, all func() []Candidate) map[string]signalling.Stripe {
	_, seeder := sd.seeders[id]
	delete(sd.seeders, id)
	sd.reserve.remove(id)
	if k := SeedCount(n); k != sd.target {
		return sd.reset(all(), k)
	}
	if !seeder {
		return nil
	}
	cands := sd.seated()
	if heir, ok := sd.reserve.pop(); ok {
		cands = append(cands, heir.Candidate)
	}
	return sd.assign(cands, sd.target)
}

// reset chooses the seeders afresh among all members with k stripes (indices of
// stayers kept as assign does) and returns the changes.
func (sd *seeding) reset(all []Candidate, k int) map[string]signalling.Stripe {
	changed := sd.assign(all, k)
	sd.reserve = reserve{}
	for _, c := range all {
		if _, ok := sd.seeders[c.ID]; !ok && c.Upload > 0 {
			sd.reserve.items = append(sd.reserve.items, rank(c))
		}
	}
	sd.reserve.init()
	return changed
}

// seated returns the current seeders as candidates.
func (sd *seeding) seated() []Candidate {
	out := make([]Candidate, 0, len(sd.seeders)+1)
	for _, s := range sd.seeders {
		out = append(out, s.r.Candidate)
	}
	return out
}

// weakest returns the lowest-ranked seeder; there must be one.
func (sd *seeding) weakest() ranked {
	var w ranked
	first := true
	for _, s := range sd.seeders {
		if first || compareRank(s.r, w) > 0 {
			w, first = s.r, false
		}
	}
	return w
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
			// A restored seat (Restore) may claim another partition or a taken index.
			if s, ok := old[id]; ok && s.Count == count && !used[s.Index] {
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
			s.r = rank(c)
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
