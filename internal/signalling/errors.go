package signalling

import "errors"

// Sentinel errors. Decode errors wrap ErrBadMessage; Dial refusals wrap ErrRejected;
// Client.Recv after the connection ended wraps ErrClosed.
var (
	ErrBadMessage = errors.New("signalling: bad message")
	ErrRejected   = errors.New("signalling: join rejected")
	ErrClosed     = errors.New("signalling: connection closed")
)

// Error codes carried by the "error" message (docs/tracker.md lists them).
const (
	CodeBadMessage   = "bad_message"    // malformed JSON, unknown type, invalid field
	CodeTooLarge     = "too_large"      // message above MaxMessageBytes (connection closed)
	CodeRateLimited  = "rate_limited"   // too many messages (connection closed)
	CodeNotJoined    = "not_joined"     // message other than join before join
	CodeJoined       = "already_joined" // second join on one connection
	CodeUnauthorized = "unauthorized"   // missing/invalid viewer token (connection closed)
	CodeNotNeighbour = "not_neighbour"  // signal/report about a peer the tracker did not introduce
	CodeUnknownPeer  = "unknown_peer"   // target peer is not (or no longer) in the swarm
	CodeFull         = "full"           // too many swarms on this tracker (connection closed)
	CodeAddrLimit    = "addr_limit"     // too many joins from this address (connection closed; retry later)
	CodeSlow         = "slow_consumer"  // outbound queue overflowed (connection closed)
	CodeTimeout      = "timeout"        // no message or pong within PeerTimeout
	CodeInternal     = "internal"       // store failure
)
