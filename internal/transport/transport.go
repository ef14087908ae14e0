// Package transport is the seam between the peer engine and the network: a
// Link carries whole wire frames to one neighbour, a Dialer opens links and
// relays signalling through the engine (and so the tracker). Implementations:
// transport/webrtc (pion data channels; the only package importing pion) and
// transport/emulated (in-memory links with bandwidth, latency, loss and an
// injected clock, for tests and the bench).
package transport

import (
	"context"
	"errors"
)

// Errors shared by the implementations.
var (
	ErrClosed      = errors.New("transport: link closed")
	ErrTooLarge    = errors.New("transport: message too large")
	ErrUnknownPeer = errors.New("transport: unknown peer")
	ErrBusy        = errors.New("transport: too many pending connections")
	ErrSignal      = errors.New("transport: bad signalling message")
)

// DefaultMaxMessage is the largest message a link carries unless configured
// otherwise: a 16 KiB piece plus header fits with room to spare, and it is
// what browsers and pion agree on for SCTP (a=max-message-size:65536).
const DefaultMaxMessage = 64 << 10

// Link is a reliable, message-oriented, unordered connection to one
// neighbour: every message sent arrives whole and exactly once, possibly out
// of order, unless the link closes first.
type Link interface {
	// Send queues one message. It does not retain msg. It blocks while the
	// link's send buffer is full (back-pressure) until ctx is done or the link
	// closes; larger than MaxMessageSize is ErrTooLarge.
	Send(ctx context.Context, msg []byte) error
	// Recv returns the next message; the caller owns it. After the link closes
	// it returns ErrClosed (messages already received may come first).
	Recv(ctx context.Context) ([]byte, error)
	// BufferedAmount is the number of bytes accepted by Send and not yet
	// transmitted.
	BufferedAmount() int
	// MaxMessageSize is the largest message Send accepts.
	MaxMessageSize() int
	// RemoteID is the neighbour's peer id.
	RemoteID() string
	// Close closes the link at both ends; it is idempotent.
	Close() error
}

// Dialer opens links to neighbours by peer id. The signalling it needs
// (WebRTC offer/answer/candidates) leaves through a callback given to the
// implementation and comes back through HandleSignal, so the engine relays it
// over the tracker.
type Dialer interface {
	// Dial connects to remote and returns the link once it is open. If remote
	// dials us at the same moment, one connection wins and both calls get it.
	Dial(ctx context.Context, remote string) (Link, error)
	// Accept returns the next link a remote peer opened to us.
	Accept(ctx context.Context) (Link, error)
	// HandleSignal feeds a signalling message from peer `from`; bad input is
	// an error wrapping ErrSignal, never a panic.
	HandleSignal(from string, s Signal) error
	// Close closes the dialer and every link it opened or accepted.
	Close() error
}

// SignalFunc sends a signalling message to peer `to` (via the tracker).
// It must not block for long.
type SignalFunc func(to string, s Signal)

// Signal is one signalling message: the `data` object of the tracker's
// `signal` message (docs/tracker.md), which browsers produce as
// RTCSessionDescriptionInit / RTCIceCandidateInit, so the engine and the web SDK
// relay it as JSON unchanged.
type Signal struct {
	// Type is "offer", "answer" or "candidate".
	Type string `json:"type"`
	// SDP is the session description of an offer or answer.
	SDP string `json:"sdp,omitempty"`
	// Candidate is one trickled ICE candidate; an empty Candidate.Candidate
	// means the end of candidates.
	Candidate *Candidate `json:"candidate,omitempty"`
}

// Candidate is an RTCIceCandidateInit.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Signal types.
const (
	SignalOffer     = "offer"
	SignalAnswer    = "answer"
	SignalCandidate = "candidate"
)
