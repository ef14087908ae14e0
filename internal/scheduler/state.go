// Package scheduler is the pure, deadline-aware piece scheduler of a shoal peer.
//
// Given a snapshot of what the peer knows (State: the time, the live window with
// each segment's playback deadline, the pieces we hold and have in flight, what
// each neighbour holds and how fast it is, and the policy), Plan decides what to
// do now: HTTP Range fetches from the edge, REQUESTs to neighbours, and CANCELs.
// It has no goroutines, reads no clock and does no I/O, so the engine, the
// tests and the bench drive it the same way. See NOTES.md for why it decides as
// it does.
package scheduler

import "time"

// DefaultPieceSize is the piece size used when Segment.PieceSize is zero
// (manifest.PieceSize; docs/integrity.md).
const DefaultPieceSize = 16384

// DefaultUrgent is Policy.Urgent's default: ~4 RTTs of a distant CDN plus a
// whole 2 MB segment at 10 Mbit/s (NOTES.md rule 1). The engine narrows it
// once it has timed its edge.
const DefaultUrgent = 1500 * time.Millisecond

// Edge is the source name of the edge (HTTP) in Pending and Run.
const Edge = ""

// State is the snapshot Plan decides on. Slices and maps are only read.
type State struct {
	Now  time.Time
	Self string // our peer id; seeds the per-peer hashes that spread load
	// Policy is the operator's/tracker's policy; zero fields take defaults.
	Policy Policy
	// Segments is the live window we still want (any order). Segments the player
	// has already played should be left out: their requests are cancelled.
	Segments   []Segment
	Neighbours []Neighbour
	// InFlight lists every outstanding request we issued, one entry per piece.
	InFlight []Pending
}

// Segment is one segment of the live window.
type Segment struct {
	Seq       uint64 // media sequence number: unique within a swarm
	Size      int64  // bytes
	PieceSize int    // 0 → DefaultPieceSize
	// Deadline is when the player needs the segment (hls.js plays whole
	// segments, so every piece shares it). Zero means "needed now".
	Deadline time.Time
	Have     Bitfield // verified pieces we hold; nil = none
}

// Neighbour is a connected peer as the engine sees it.
type Neighbour struct {
	ID   string
	Have Haves // per segment seq; missing = none
	// Throughput is the estimated rate at which it delivers to us, bytes/s;
	// 0 → Policy.DefaultThroughput.
	Throughput float64
	RTT        time.Duration
	// Choking: it takes no new requests from us now (busy or refusing).
	// Requests already sent stay until answered, rejected (the engine drops
	// them from InFlight) or timed out.
	Choking bool
	// NoUpload: it never serves anyone (upload off or zero): its Have is
	// ignored, so we neither wait for it nor ask it.
	NoUpload bool
}

// Pending is one outstanding request for one piece.
type Pending struct {
	Seq   uint64
	Piece int
	From  string // neighbour id, or Edge
	Since time.Time
}

// Stripe designates us as the seeder of stripe Index of Count for every new
// segment: we fetch those pieces from the edge at once and the swarm spreads
// them. Count == 0 means we are not a seeder.
type Stripe struct {
	Index, Count int
}

// Policy tunes the scheduler. The zero value is CDN-only with default windows.
type Policy struct {
	// P2P enables neighbour requests; false sends everything to the edge.
	P2P bool
	// Urgent: pieces due within it always come from the edge (default 1.5 s).
	Urgent time.Duration
	// Handover: a neighbour request already in flight when its piece turns
	// urgent may still finish (within its timeout) until Handover before the
	// deadline; then the edge takes over (default Urgent/2). Only new requests
	// for urgent pieces must go to the edge.
	Handover time.Duration
	// FallbackWindow: a piece no neighbour holds is fetched from the edge at a
	// per-peer hashed moment within this window before it turns urgent
	// (default 500 ms).
	FallbackWindow time.Duration
	// MaxOutstanding caps the pieces in flight to one neighbour (default 32).
	MaxOutstanding int
	// QueueTarget sizes a neighbour's in-flight bound: throughput × (RTT +
	// QueueTarget) bytes (default 250 ms), at least 2 pieces.
	QueueTarget time.Duration
	// TimeoutFactor × expected transfer time (RTT + queue ahead / throughput)
	// after which a neighbour request is re-issued elsewhere (default 4),
	// never below MinTimeout (default 500 ms).
	TimeoutFactor float64
	MinTimeout    time.Duration
	// DefaultThroughput is assumed for a neighbour without an estimate,
	// bytes/s (default 256 KiB/s).
	DefaultThroughput float64
	// Stripe is the tracker's seeding assignment for us: the pieces of our
	// stripe that no neighbour announced come from the edge at once, while
	// the segment is due later than Urgent + SeedMargin (default 500 ms;
	// closer ones are the urgent rule's, and a stripe seeded later could not
	// spread before it).
	Stripe     Stripe
	SeedMargin time.Duration
	// NoUpload: we upload nothing (capped to zero, NAT-bound, mobile), so we
	// never seed and fetch missing pieces from the edge only when urgent.
	NoUpload bool
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.Urgent <= 0 {
		p.Urgent = DefaultUrgent
	}
	if p.Handover <= 0 || p.Handover > p.Urgent {
		p.Handover = p.Urgent / 2
	}
	if p.FallbackWindow <= 0 {
		p.FallbackWindow = 500 * time.Millisecond
	}
	if p.MaxOutstanding <= 0 {
		p.MaxOutstanding = 32
	}
	if p.QueueTarget <= 0 {
		p.QueueTarget = 250 * time.Millisecond
	}
	if p.TimeoutFactor <= 0 {
		p.TimeoutFactor = 4
	}
	if p.MinTimeout <= 0 {
		p.MinTimeout = 500 * time.Millisecond
	}
	if p.SeedMargin <= 0 {
		p.SeedMargin = 500 * time.Millisecond
	}
	if p.DefaultThroughput <= 0 {
		p.DefaultThroughput = 256 << 10
	}
	return p
}

// Pieces is the number of pieces of s (the last one may be short).
func (s Segment) Pieces() int {
	ps := int64(s.pieceSize())
	if s.Size <= 0 {
		return 0
	}
	return int((s.Size + ps - 1) / ps)
}

// Range is the byte range [off, off+n) covering pieces [first, first+count).
func (s Segment) Range(first, count int) (off, n int64) {
	ps := int64(s.pieceSize())
	off = int64(first) * ps
	end := min(int64(first+count)*ps, s.Size)
	if end < off {
		return off, 0
	}
	return off, end - off
}

func (s Segment) pieceSize() int {
	if s.PieceSize <= 0 {
		return DefaultPieceSize
	}
	return s.PieceSize
}

// pieceLen is the length of piece i.
func (s Segment) pieceLen(i int) int64 {
	_, n := s.Range(i, 1)
	return n
}
