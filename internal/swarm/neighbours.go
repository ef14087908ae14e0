package swarm

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Neighbour choice. A peer's Limit is the policy bound for peers with at least the swarm's
// mean upload capacity and two thirds of it for the others, so strong uploaders become
// hubs. At join (and when refilled after a neighbour leaves) a peer is linked to only
// half of its Limit: the other half stays open for later joiners, which keeps the graph
// mixed instead of a chain of full cliques. Candidates are peers with a free slot; they
// are taken by locality tier (same region label, then same /24 or /48 prefix, then any),
// and inside a tier alternately the strongest remaining and a random one, so nobody gets
// only the weakest peers and the strongest are not all taken by the same newcomers.
// Between two viewers of a title, a tier is further cut by how far apart they play
// (positionTier): a neighbour holds what it watched and buffers what it will watch, so
// the useful ones play a little ahead of us, or a little behind.

// peerLimit returns the neighbour bound of a peer with capacity in a swarm whose mean
// capacity is mean, under the policy bound.
func peerLimit(capacity, mean int64, bound int) int {
	if bound <= 0 {
		return 0
	}
	if capacity >= mean {
		return bound
	}
	return max(1, (2*bound+2)/3)
}

// joinTarget is how many neighbours the tracker gives a peer on its own initiative.
func joinTarget(limit int) int { return (limit + 1) / 2 }

// linkRamp paces the links a peer is given beyond its join target: one per linkRamp
// of its age. Without it the free half of a newcomer's slots is taken by the next
// few joiners (at 150 joins/s every slot is gone within ~100 ms), so a joiner's
// neighbours are all 0–120 ms older than it and none holds the segment it starts on;
// with it the slots of peers that have played for a while stay open for later
// joiners (docs/tracker.md "Tuning history").
const linkRamp = 300 * time.Millisecond

// takes reports whether c may be given another link at now (zero: no ramp).
func takes(c Peer, now time.Time) bool {
	if c.Degree >= c.Limit {
		return false
	}
	return now.IsZero() || c.Degree < joinTarget(c.Limit)+int(now.Sub(c.Joined)/linkRamp)
}

// initiates reports whether a sends the WebRTC offer to b: the later joiner does, ties
// broken by id, so both sides compute opposite answers.
func initiates(a, b Peer) bool {
	if !a.Joined.Equal(b.Joined) {
		return a.Joined.After(b.Joined)
	}
	return a.ID > b.ID
}

// addrPrefix returns the /24 (IPv4) or /48 (IPv6) network of addr, "" if unparsable.
func addrPrefix(addr string) string {
	if p, ok := prefixOf(addr); ok {
		return p.String()
	}
	return ""
}

// prefixOf is addrPrefix as a comparable value, without formatting it.
func prefixOf(addr string) (netip.Prefix, bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// near is what locality needs of the peer choosing: computed once per choice.
type near struct {
	region    string
	prefix    netip.Prefix
	hasPrefix bool
}

func nearOf(p Peer) near {
	pf, ok := prefixOf(p.Addr)
	return near{region: p.Region, prefix: pf, hasPrefix: ok}
}

// locality ranks b as seen from a: 0 same region, 1 same address prefix, 2 other.
func locality(a, b Peer) int { return nearOf(a).rank(b) }

func (a near) rank(b Peer) int {
	if a.region != "" && a.region == b.Region {
		return 0
	}
	if a.hasPrefix {
		if pb, ok := prefixOf(b.Addr); ok && pb == a.prefix {
			return 1
		}
	}
	return 2
}

// Position tiers: positionStep seconds of distance each (a peer behind us counts
// double: it holds less of what we need next), the last but one for anything further,
// the last for a peer with no position.
const (
	positionStep  = 10.0
	positionTiers = 8
)

// positionTier is 0 unless p plays a title, else how far c plays from p.
func positionTier(p, c Peer) int {
	if p.PosAt.IsZero() {
		return 0
	}
	d, ok := p.Ahead(c)
	if !ok {
		return positionTiers - 1
	}
	if d < 0 {
		d = -2 * d
	}
	return min(positionTiers-2, int(d/positionStep))
}

// choose picks up to want peers for p among cands that take a link at now, skipping p
// itself and ids in skip. If the ramp (takes) leaves fewer than half of want, the rest
// of that half comes from any peer below its limit: a small or young swarm does not
// leave a joiner alone until its stats refill it. Viewers of a title are chosen by
// position, without the ramp: what a neighbour holds depends on where it plays, not on
// how long it has.
func choose(p Peer, cands []Peer, skip map[string]bool, want int, rnd *rand.Rand, now time.Time) []Peer {
	if !p.PosAt.IsZero() {
		now = time.Time{}
	}
	out := pick(p, cands, skip, want, rnd, now)
	if floor := (want + 1) / 2; len(out) < floor && !now.IsZero() {
		more := make(map[string]bool, len(skip)+len(out))
		maps.Copy(more, skip)
		for _, c := range out {
			more[c.ID] = true
		}
		out = append(out, pick(p, cands, more, floor-len(out), rnd, time.Time{})...)
	}
	return out
}

// pick is choose without the floor.
func pick(p Peer, cands []Peer, skip map[string]bool, want int, rnd *rand.Rand, now time.Time) []Peer {
	if want <= 0 {
		return nil
	}
	var tiers [3 * positionTiers][]Peer // by locality, then by position
	me := nearOf(p)
	for _, c := range cands {
		if c.ID == p.ID || skip[c.ID] || !takes(c, now) {
			continue
		}
		l := me.rank(c)*positionTiers + positionTier(p, c)
		tiers[l] = append(tiers[l], c)
	}
	out := make([]Peer, 0, want)
	for _, tier := range tiers {
		slices.SortFunc(tier, func(a, b Peer) int {
			return cmp.Or(cmp.Compare(b.UploadCapacity, a.UploadCapacity), cmp.Compare(a.ID, b.ID))
		})
		for i := 0; len(out) < want && len(tier) > 0; i++ {
			j := 0
			if i%2 == 1 {
				j = rnd.IntN(len(tier))
			}
			out = append(out, tier[j])
			tier = slices.Delete(tier, j, j+1)
		}
	}
	return out
}

// Locality ranks b as seen from a: 0 same region, 1 same address prefix, 2 other. It is
// the tier order of choose, for cores that pick peers by locality without links or
// capacities (internal/announce).
func Locality(a, b Peer) int { return locality(a, b) }
