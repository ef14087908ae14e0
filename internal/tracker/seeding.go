package tracker

import (
	"cmp"
	"slices"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// Seeding by stripes (internal/scheduler NOTES §4). Only something that sees the whole
// swarm can give every piece of every segment exactly one seeder, so the tracker picks
// them: scheduler.AssignStripes over the swarm's members with SeedCount(n) stripes
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
	Stripe
	upload float64
}

// joined updates the assignment for newcomer p, the swarm now having n members; all
// returns every member (p included) and is called only when the shortcut does not
// apply. It returns the peers whose stripe changed (Count 0: no longer seeds).
func (sd *seeding) joined(p scheduler.Candidate, n int, all func() []scheduler.Candidate) map[string]Stripe {
	k := scheduler.SeedCount(n)
	if k != sd.target {
		return sd.assign(all(), k)
	}
	if p.Upload <= 0 {
		return nil
	}
	cands := make([]scheduler.Candidate, 0, len(sd.seeders)+1)
	for id, s := range sd.seeders {
		cands = append(cands, scheduler.Candidate{ID: id, Upload: s.upload})
	}
	return sd.assign(append(cands, p), k)
}

// left updates the assignment after peer id left, n members remaining (all lists them).
// The peer that left gets no change: it is gone.
func (sd *seeding) left(id string, n int, all func() []scheduler.Candidate) map[string]Stripe {
	k := scheduler.SeedCount(n)
	if _, seeder := sd.seeders[id]; !seeder && k == sd.target {
		return nil
	}
	delete(sd.seeders, id)
	return sd.assign(all(), k)
}

// assign makes the AssignStripes choice over cands the current assignment and returns
// the changes.
func (sd *seeding) assign(cands []scheduler.Candidate, k int) map[string]Stripe {
	next := scheduler.AssignStripes(cands, k)
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
			seeders[id] = seat{Stripe: Stripe{Index: free, Count: count}}
		}
	} else {
		for id, s := range next {
			seeders[id] = seat{Stripe: Stripe{Index: s.Index, Count: s.Count}}
		}
	}
	for _, c := range cands {
		if s, ok := seeders[c.ID]; ok {
			s.upload = c.Upload
			seeders[c.ID] = s
		}
	}
	changed := make(map[string]Stripe)
	for id, s := range seeders {
		if o, ok := old[id]; !ok || o.Stripe != s.Stripe {
			changed[id] = s.Stripe
		}
	}
	for id := range old {
		if _, ok := seeders[id]; !ok {
			changed[id] = Stripe{}
		}
	}
	sd.target, sd.seeders = k, seeders
	return changed
}

// members lists swarm s's peers on this tracker as seeding candidates.
func (t *Tracker) members(s SwarmKey) []scheduler.Candidate {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]scheduler.Candidate, 0, len(t.conns[s]))
	for id, c := range t.conns[s] {
		out = append(out, scheduler.Candidate{ID: id, Upload: float64(c.peer.UploadCapacity)})
	}
	return out
}

// seedJoinLocked updates swarm s's seeders for newcomer p (already in t.conns) and
// returns p's stripe, for its welcome, after telling every other peer whose stripe
// changed. The swarm lock must be held.
func (t *Tracker) seedJoinLocked(s SwarmKey, p Peer, p2p bool) Stripe {
	if !p2p {
		return Stripe{}
	}
	t.mu.Lock()
	sd := t.seeds[s]
	if sd == nil {
		sd = &seeding{}
		t.seeds[s] = sd
	}
	n := len(t.conns[s])
	t.mu.Unlock()
	changed := sd.joined(scheduler.Candidate{ID: p.ID, Upload: float64(p.UploadCapacity)}, n,
		func() []scheduler.Candidate { return t.members(s) })
	mine := changed[p.ID]
	delete(changed, p.ID)
	t.sendStripes(s, changed)
	return mine
}

// seedLeaveLocked updates swarm s's seeders after peer id left (already out of
// t.conns). The swarm lock must be held.
func (t *Tracker) seedLeaveLocked(s SwarmKey, id string) {
	t.mu.Lock()
	sd := t.seeds[s]
	n := len(t.conns[s])
	if n == 0 {
		delete(t.seeds, s)
	}
	t.mu.Unlock()
	if sd == nil || n == 0 {
		return
	}
	t.sendStripes(s, sd.left(id, n, func() []scheduler.Candidate { return t.members(s) }))
}

// reseedLocked applies a policy change: P2P off → nobody seeds (every seeder is told
// Count 0); P2P back on → the seeders are chosen afresh. The swarm lock must be held.
func (t *Tracker) reseedLocked(s SwarmKey, p2p bool) {
	t.mu.Lock()
	sd, n := t.seeds[s], len(t.conns[s])
	switch {
	case !p2p:
		delete(t.seeds, s)
	case sd == nil && n > 0:
		t.seeds[s] = &seeding{}
	}
	fresh := t.seeds[s]
	t.mu.Unlock()
	switch {
	case !p2p && sd != nil:
		off := make(map[string]Stripe, len(sd.seeders))
		for id := range sd.seeders {
			off[id] = Stripe{}
		}
		t.sendStripes(s, off)
	case p2p && sd == nil && fresh != nil:
		t.sendStripes(s, fresh.assign(t.members(s), scheduler.SeedCount(n)))
	}
}

func (t *Tracker) sendStripes(s SwarmKey, changed map[string]Stripe) {
	for id, st := range changed {
		if c := t.conn(s, id); c != nil {
			c.send(&st)
			t.m.stripes.Inc()
		}
	}
}
