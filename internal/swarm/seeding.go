package swarm

import (
	"maps"
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
	held    []int   // seeders per stripe index; its length is the stripe count
	weak    reserve // the seeders, weakest first: the one a stronger newcomer replaces
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
	switch {
	case len(sd.seeders) < k && stripeCount(len(sd.seeders)+1) == sd.count():
		return map[string]signalling.Stripe{p.ID: sd.seat(rp)} // a free seat
	case len(sd.seeders) < k:
		cands := append(sd.seated(), p) // the partition grows: AssignStripes anew
		return sd.assign(cands, k)
	case k == 0 || compareRank(rp, sd.weak.top()) > 0:
		sd.reserve.push(rp) // outranked by every seeder: nothing changes
		return nil
	}
	// p outranks the weakest seeder, who steps down: p takes its stripe.
	w := sd.unseat(sd.weak.top().ID)
	sd.reserve.push(w.r)
	return map[string]signalling.Stripe{w.r.ID: {}, p.ID: sd.seat(rp)}
}

// left updates the assignment after peer id left, n members remaining (all lists them
// and is called only when SeedCount changed). The peer that left gets no change: it
// is gone.
func (sd *seeding) left(id string, n int, all func() []Candidate) map[string]signalling.Stripe {
	_, seeder := sd.seeders[id]
	if seeder {
		sd.unseat(id)
	}
	sd.reserve.remove(id)
	if k := SeedCount(n); k != sd.target {
		return sd.reset(all(), k)
	}
	if !seeder {
		return nil
	}
	heir, ok := sd.reserve.pop()
	if ok && stripeCount(len(sd.seeders)+1) == sd.count() {
		return map[string]signalling.Stripe{heir.ID: sd.seat(heir)} // the heir takes the freed stripe
	}
	cands := sd.seated() // the partition shrinks: AssignStripes anew
	if ok {
		cands = append(cands, heir.Candidate)
	}
	return sd.assign(cands, sd.target)
}

// count is the current partition's stripe count (0: nobody seeds).
func (sd *seeding) count() int { return len(sd.held) }

// seat makes c a seeder of the least-held stripe and returns it.
func (sd *seeding) seat(c ranked) signalling.Stripe {
	free := 0
	for i, u := range sd.held {
		if u < sd.held[free] {
			free = i
		}
	}
	st := signalling.Stripe{Index: free, Count: len(sd.held)}
	sd.held[free]++
	sd.seeders[c.ID] = seat{Stripe: st, r: c}
	sd.weak.push(c)
	return st
}

// unseat removes seeder id and returns its seat.
func (sd *seeding) unseat(id string) seat {
	s := sd.seeders[id]
	delete(sd.seeders, id)
	sd.weak.remove(id)
	if s.Index < len(sd.held) { // a seat taken over by Core.Restore has no partition until the next re-rank
		sd.held[s.Index]--
	}
	return s
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

// assign makes the AssignStripes choice over cands the current assignment and returns
// the changes.
func (sd *seeding) assign(cands []Candidate, k int) map[string]signalling.Stripe {
	next := AssignStripes(cands, k)
	count := stripeCount(len(next))
	old := sd.seeders
	oldCount := 0
	for _, s := range old {
		oldCount = s.Count
		break
	}
	seeders := make(map[string]seat, len(next))
	if count == oldCount && count > 0 {
		// Same partition of the pieces: stayers keep their stripe while it holds
		// no more seeders than its share (k/count, the first k%count stripes to
		// fill one more), newcomers and the rest take the least-held stripes, in
		// AssignStripes' rank order.
		k := len(next)
		lo, extra := k/count, k%count
		used := make([]int, count)
		fits := func(i int) bool {
			if used[i] < lo {
				return true
			}
			if used[i] == lo && extra > 0 {
				extra--
				return true
			}
			return false
		}
		ranks := make(map[string]ranked, len(cands))
		for _, c := range cands {
			ranks[c.ID] = rank(c)
		}
		ids := slices.SortedFunc(maps.Keys(next), func(a, b string) int { return compareRank(ranks[a], ranks[b]) })
		var in []string
		for _, id := range ids {
			// A restored seat (Restore) may claim another partition or a full stripe.
			if s, ok := old[id]; ok && s.Count == count && s.Index < count && fits(s.Index) {
				seeders[id] = s
				used[s.Index]++
			} else {
				in = append(in, id)
			}
		}
		for _, id := range in {
			free := 0
			for i, u := range used {
				if u < used[free] {
					free = i
				}
			}
			fits(free)
			used[free]++
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
	sd.held = make([]int, count)
	sd.weak = reserve{weakestFirst: true}
	for _, s := range seeders {
		sd.held[s.Index]++
		sd.weak.items = append(sd.weak.items, s.r)
	}
	sd.weak.init()
	return changed
}
