package swarm

import (
	"context"
	"time"
)

// SwarmKey names a swarm: one per (stream, rendition).
type SwarmKey struct {
	Stream    string
	Rendition string
}

func (k SwarmKey) String() string { return k.Stream + "/" + k.Rendition }

// Peer is a swarm member's record.
type Peer struct {
	ID             string
	Addr           string // remote IP address (no port); bans and locality use it
	Region         string
	UploadCapacity int64     // bit/s
	Limit          int       // neighbour bound the tracker chose for this peer
	Joined         time.Time // orders the pair: the later joiner initiates WebRTC
	Degree         int       // current neighbour count; maintained by the Store, ignored by AddPeer
	// A viewer of an on-demand title plays Pos seconds into it at PosAt, and on from
	// there with the clock; the zero PosAt is no position (a live viewer, or one that
	// did not say). Neighbour choice puts viewers near each other's position first.
	Pos   float64
	PosAt time.Time
}

// Ahead returns how many seconds of the title b plays ahead of a (negative: behind),
// and false unless both have a position.
func (a Peer) Ahead(b Peer) (float64, bool) {
	if a.PosAt.IsZero() || b.PosAt.IsZero() {
		return 0, false
	}
	return b.Pos - a.Pos - b.PosAt.Sub(a.PosAt).Seconds(), true
}

// Counters are cumulative traffic counters.
type Counters struct {
	BytesCDN uint64
	BytesP2P uint64
	BytesUp  uint64
	Stalls   uint64
}

// SwarmStats aggregates one swarm. Counters include peers that have left.
type SwarmStats struct {
	Swarm    SwarmKey
	Peers    int
	Capacity int64 // sum of the current peers' upload capacity
	Counters
}

// Reporter is one reporting address and how many reports it filed about a target.
type Reporter struct {
	Addr  string
	Count int
}

// Ban excludes a peer id and a remote address from one swarm until Until.
type Ban struct {
	PeerID string
	Addr   string
	Until  time.Time
}

// Store holds swarm state: membership, peer records, neighbour links, stats, reports,
// strikes and bans. Each method is atomic on its own; the tracker serialises the
// multi-step changes of one swarm (join, leave, ban) itself. Implementations must be
// safe for concurrent use; every implementation must pass storetest.Run.
type Store interface {
	// AddPeer adds p to swarm s (creating the swarm). ErrPeerExists if the id is taken.
	AddPeer(ctx context.Context, s SwarmKey, p Peer) error
	// RemovePeer removes a peer, its links and the reports about it, and returns the
	// ids it was linked to (sorted). Stats totals stay with the swarm. ErrPeerNotFound.
	RemovePeer(ctx context.Context, s SwarmKey, id string, now time.Time) ([]string, error)
	// Peer returns one record, with Degree. ErrPeerNotFound.
	Peer(ctx context.Context, s SwarmKey, id string) (Peer, error)
	// OpenPeers returns up to limit peers whose Degree is below their Limit (all of them
	// when limit allows), in no particular order. The result is a function of the
	// store's state and start only, so a seeded caller stays deterministic; callers
	// vary start to sample a large open set.
	OpenPeers(ctx context.Context, s SwarmKey, start uint64, limit int) ([]Peer, error)
	// SetLimit changes a peer's neighbour bound. ErrPeerNotFound.
	SetLimit(ctx context.Context, s SwarmKey, id string, limit int) error
	// SetPosition records that a title's viewer plays pos seconds into it at at
	// (Peer.Pos, Peer.PosAt). ErrPeerNotFound.
	SetPosition(ctx context.Context, s SwarmKey, id string, pos float64, at time.Time) error

	// Link makes a and b neighbours (symmetric, idempotent) and remembers that they met.
	// ErrPeerNotFound if either is absent; linking a peer to itself is an error.
	Link(ctx context.Context, s SwarmKey, a, b string) error
	// Unlink removes the link; they stay "met".
	Unlink(ctx context.Context, s SwarmKey, a, b string) error
	// Neighbours returns the ids linked to id (sorted). ErrPeerNotFound.
	Neighbours(ctx context.Context, s SwarmKey, id string) ([]string, error)
	// Linked reports whether a and b are currently neighbours.
	Linked(ctx context.Context, s SwarmKey, a, b string) (bool, error)
	// Met reports whether a and b are or were neighbours while both were in the swarm.
	Met(ctx context.Context, s SwarmKey, a, b string) (bool, error)

	// UpdateStats records a peer's cumulative counters: each counter only moves forward
	// (a lower value is ignored) and the forward delta is added to the swarm totals and
	// returned. ErrPeerNotFound.
	UpdateStats(ctx context.Context, s SwarmKey, id string, c Counters) (Counters, error)
	// Swarm returns one swarm's aggregate (zero values, Swarm set, if it is unknown).
	Swarm(ctx context.Context, s SwarmKey) (SwarmStats, error)
	// Swarms returns every known swarm, sorted by stream then rendition.
	Swarms(ctx context.Context) ([]SwarmStats, error)

	// AddReport records one report by reporterAddr about peer target and returns every
	// address that reported target since it joined (sorted by address). ErrPeerNotFound.
	AddReport(ctx context.Context, s SwarmKey, target, reporterAddr string) ([]Reporter, error)
	// AddStrikes adds delta (may be negative; the result never drops below 0) to the
	// uncorroborated-report count of addr and returns it. A count untouched by a positive
	// delta for ttl expires to 0. delta 0 just reads.
	AddStrikes(ctx context.Context, s SwarmKey, addr string, delta int, now time.Time, ttl time.Duration) (int, error)
	// Ban records b. A later ban of the same id or address extends it.
	Ban(ctx context.Context, s SwarmKey, b Ban) error
	// Banned reports whether id or addr (either may be empty) is banned at now.
	Banned(ctx context.Context, s SwarmKey, id, addr string, now time.Time) (bool, error)

	// Collect drops expired bans and strikes, and swarms that have had no peer for
	// emptyTTL and hold no ban or strike.
	Collect(ctx context.Context, now time.Time, emptyTTL time.Duration) error
}
