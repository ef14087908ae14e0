package swarm

import (
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Seeders are chosen by the upload capacity they declare at join, so a peer can
// declare a huge one, be given a stripe and then withhold it (docs/abuse.md):
// only it fetches those pieces early, so its neighbours get them from the edge
// at the last moment. A seeder must therefore show upload: a seeder whose
// reported bytes_up has not grown for SeedGrace since it was seen seeding loses
// its stripe, as if it had left (the heir takes it at once), and counts from then
// on as a peer with upload 0, which never seeds again in this swarm.
//
// bytes_up is the peer's own report: a seeder that also lies in its stats is not
// caught by this; neighbour-attributed receipts would (docs/abuse.md "Not done").

// A seeder that sends no stats at all is caught too: seats given at a join or a
// leave are watched from then on, and every stats message from any member also
// checks one other watched seeder, each in turn, so each is checked about
// members/seeders times per stats interval. (In turn, not at random: the same
// messages make the same decisions, which a virtual-time bench needs.)

// watch is what the core knows of one seeder's shown upload.
type watch struct {
	since time.Time // when it was first seen seeding, or its bytes_up last grew
	up    uint64    // its bytes_up then
}

// showUpload applies member id's stats at now: a seeder that showed no upload for
// SeedGrace is demoted. sw must be locked.
func (c *Core) showUpload(now time.Time, k SwarmKey, sw *swarm, id string, bytesUp uint64) []Out {
	if c.cfg.SeedGrace < 0 || sw.seeds == nil {
		return nil
	}
	var outs []Out
	if other, w, ok := sw.nextWatched(); ok && other != id && now.Sub(w.since) >= c.cfg.SeedGrace {
		outs = c.demote(now, k, sw, other) // one per message: bounded work
	}
	if _, seeds := sw.seeds.seeders[id]; !seeds {
		delete(sw.watch, id)
		return outs
	}
	w, ok := sw.watch[id]
	switch {
	case !ok || bytesUp > w.up:
		sw.setWatch(id, watch{since: now, up: max(bytesUp, w.up)})
		return outs
	case now.Sub(w.since) < c.cfg.SeedGrace:
		return outs
	}
	return append(outs, c.demote(now, k, sw, id)...)
}

// watchSeats starts watching the peers given a stripe in changed and stops
// watching those that lost theirs. sw must be locked.
func (c *Core) watchSeats(now time.Time, sw *swarm, changed map[string]signalling.Stripe) {
	if c.cfg.SeedGrace < 0 {
		return
	}
	for id, st := range changed {
		if st.Count == 0 {
			delete(sw.watch, id)
			continue
		}
		if _, ok := sw.watch[id]; !ok {
			sw.setWatch(id, watch{since: now}) // up 0: its first report restarts the clock
		}
	}
}

// demote makes seeder id a member with upload 0: its stripe goes to the heir as
// when a seeder leaves, the member count unchanged. A seeder without neighbours
// (alone in its swarm) has nobody to show upload to: it keeps its seat, and its
// clock starts again. sw must be locked.
func (c *Core) demote(now time.Time, k SwarmKey, sw *swarm, id string) []Out {
	i, ok := sw.index[id]
	if !ok {
		delete(sw.watch, id)
		return nil
	}
	if _, seeds := sw.seeds.seeders[id]; !seeds {
		delete(sw.watch, id) // lost its seat meanwhile
		return nil
	}
	if p, err := c.store.Peer(c.ctx, k, id); err != nil || p.Degree == 0 {
		sw.watch[id] = watch{since: now, up: sw.watch[id].up}
		return nil
	}
	delete(sw.watch, id)
	sw.members[i].UploadCapacity = 0
	changed := sw.seeds.left(id, len(sw.members), sw.candidates)
	if changed == nil {
		changed = map[string]signalling.Stripe{}
	}
	changed[id] = signalling.Stripe{} // left() tells everyone but the peer that left
	c.watchSeats(now, sw, changed)
	c.cfg.OnDemote(k, id)
	return stripeOuts(k, changed)
}

// setWatch sets seeder id's watch, adding it to the ring if new.
func (sw *swarm) setWatch(id string, w watch) {
	if sw.watch == nil {
		sw.watch = make(map[string]watch)
	}
	if _, ok := sw.watch[id]; !ok {
		sw.watchRing = append(sw.watchRing, id)
	}
	sw.watch[id] = w
	if len(sw.watchRing) > 2*len(sw.watch)+8 { // ids unwatched since: drop them
		seen := make(map[string]bool, len(sw.watch))
		sw.watchRing = slices.DeleteFunc(sw.watchRing, func(id string) bool {
			_, ok := sw.watch[id]
			drop := !ok || seen[id]
			seen[id] = true
			return drop
		})
		sw.watchNext = 0
	}
}

// nextWatched returns the next watched seeder in the ring, dropping ids no
// longer watched on the way.
func (sw *swarm) nextWatched() (string, watch, bool) {
	for len(sw.watchRing) > 0 {
		i := sw.watchNext % len(sw.watchRing)
		id := sw.watchRing[i]
		if w, ok := sw.watch[id]; ok {
			sw.watchNext = i + 1
			return id, w, true
		}
		sw.watchRing = slices.Delete(sw.watchRing, i, i+1)
		sw.watchNext = i
	}
	return "", watch{}, false
}
