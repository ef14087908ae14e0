package engine

import (
	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Action is something the caller must do; Ready hands them back in order.
type Action interface{ action() }

type (
	// FetchPlaylist: fetch the rendition's media playlist, answer
	// PlaylistFetched. The core asks for one at a time.
	FetchPlaylist struct{}

	// FetchRecord: fetch and verify segment ID's signed record, answer
	// RecordFetched.
	FetchRecord struct {
		ID  wire.SegmentID
		URI string
	}

	// FetchEdge: fetch pieces [First, First+Count) of segment Seq from the
	// edge, bytes [Off, Off+Len) of URI (Whole: the whole segment, Len bytes,
	// without a Range header), answer EdgeFetched.
	FetchEdge struct {
		Seq          uint64
		URI          string
		First, Count int
		Off, Len     int64
		Whole        bool
		Why          scheduler.Reason
	}

	// Send: send Msg on Link. A PIECE is answered PieceSent once sent;
	// control frames must not wait behind pieces.
	Send struct {
		Link LinkID
		Msg  wire.Msg
	}

	// CloseLink: close the link (the core has forgotten it).
	CloseLink struct {
		Link LinkID
		Why  string
	}

	// Report: tell the tracker session that Peer sent a bad piece.
	Report struct {
		Session SessionID
		Peer    string
		Segment wire.SegmentID
		Piece   int
		Reason  string
	}

	// Deliver: segment ID is complete and every piece verified; Data is its
	// bytes (nil when Config.NoDeliverData). Data never changes.
	Deliver struct {
		ID   wire.SegmentID
		Data []byte
	}

	// Forget: segment ID left the window; drop what was kept of it.
	Forget struct{ ID wire.SegmentID }

	// Verified: piece Index of segment ID was stored, verified (only with
	// Config.ReportPieces: for a bench that times how fast pieces spread).
	Verified struct {
		ID    wire.SegmentID
		Index int
	}
)

func (FetchPlaylist) action() {}
func (FetchRecord) action()   {}
func (FetchEdge) action()     {}
func (Send) action()          {}
func (CloseLink) action()     {}
func (Report) action()        {}
func (Deliver) action()       {}
func (Forget) action()        {}
func (Verified) action()      {}
