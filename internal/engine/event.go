package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Event is something that happened outside the core; Step takes one with the
// time it happened.
type Event interface{ event() }

// LinkID names one transport link for the life of the engine: the caller
// numbers links, so a frame or a close from a link the core has replaced
// (the same neighbour reconnected) is told apart from the new one's.
type LinkID uint64

// SessionID names one tracker session (one peer id), numbered by the caller.
type SessionID uint64

// Policy is the part of the tracker's policy the engine follows.
type Policy struct {
	P2P       bool  // neighbours may be used
	MaxUpload int64 // bit/s; 0: no cap from the tracker
}

type (
	// Tick: the moment Wake asked for (or any time: the core decides on what
	// is due).
	Tick struct{}

	// PlaylistFetched answers FetchPlaylist.
	PlaylistFetched struct {
		Target  time.Duration
		Entries []Entry // ascending seq; empty with Err
		Ended   bool    // #EXT-X-ENDLIST: a title, or a live stream that ended (vod.go)
		Err     error
	}

	// RecordFetched answers FetchRecord: Rec is verified (signature, names,
	// piece size) by the caller.
	RecordFetched struct {
		Seq uint64
		Rec *manifest.Record
		Err error
	}

	// EdgeFetched answers FetchEdge with the bytes of its pieces. Asked is
	// when the fetch was issued, Headers when the response headers came,
	// Done when the whole body had come (they time the edge).
	EdgeFetched struct {
		Seq                  uint64
		First, Count         int
		Data                 []byte
		Err                  error
		Asked, Headers, Done time.Time
	}

	// SessionUp: a tracker session began (welcome).
	SessionUp struct {
		Session SessionID
		PeerID  string
		Policy  Policy
		Stripe  scheduler.Stripe
	}
	// StripeChanged: the tracker's new seeding assignment.
	StripeChanged struct {
		Session SessionID
		Stripe  scheduler.Stripe
	}
	// PolicyChanged: the tracker's new policy.
	PolicyChanged struct {
		Session SessionID
		Policy  Policy
	}
	// NeighboursRemoved: the tracker withdrew these neighbours.
	NeighboursRemoved struct {
		Session SessionID
		IDs     []string
	}
	// SessionDown: the tracker session ended (links stay up).
	SessionDown struct{ Session SessionID }

	// LinkUp: a link to neighbour Remote opened within Session (either side
	// dialled). The core may answer CloseLink.
	LinkUp struct {
		Session SessionID
		Link    LinkID
		Remote  string
	}
	// FrameReceived: a decoded frame from a link.
	FrameReceived struct {
		Link LinkID
		Msg  wire.Msg
	}
	// LinkDown: a link closed; Err is set for a protocol violation (a frame
	// that did not decode).
	LinkDown struct {
		Link LinkID
		Err  error
	}
	// PieceSent: the link's writer has sent the PIECE frame the core gave it,
	// so the link may take its next turn in the upload line.
	PieceSent struct{ Link LinkID }

	// Demand: a local player asked for a segment: it is due now.
	Demand struct {
		Seq   uint64
		Epoch string
	}
)

func (Tick) event()              {}
func (PlaylistFetched) event()   {}
func (RecordFetched) event()     {}
func (EdgeFetched) event()       {}
func (SessionUp) event()         {}
func (StripeChanged) event()     {}
func (PolicyChanged) event()     {}
func (NeighboursRemoved) event() {}
func (SessionDown) event()       {}
func (LinkUp) event()            {}
func (FrameReceived) event()     {}
func (LinkDown) event()          {}
func (PieceSent) event()         {}
func (Demand) event()            {}
