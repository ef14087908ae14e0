package tracker

import (
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// The protocol moved to internal/signalling and the swarm state to internal/swarm;
// these names keep existing importers compiling.

// Deprecated: alias kept while importers move to internal/signalling.
type (
	Message      = signalling.Message
	Join         = signalling.Join
	ICECandidate = signalling.ICECandidate
	SignalData   = signalling.SignalData
	Signal       = signalling.Signal
	Stats        = signalling.Stats
	Report       = signalling.Report
	Leave        = signalling.Leave
	Neighbour    = signalling.Neighbour
	Welcome      = signalling.Welcome
	Stripe       = signalling.Stripe
	Neighbours   = signalling.Neighbours
	Banned       = signalling.Banned
	Error        = signalling.Error
	Policy       = signalling.Policy
	Dialer       = signalling.Dialer
	Client       = signalling.Client
)

// Deprecated: alias kept while importers move to internal/signalling.
const (
	TypeJoin       = signalling.TypeJoin
	TypeSignal     = signalling.TypeSignal
	TypeStats      = signalling.TypeStats
	TypeReport     = signalling.TypeReport
	TypeLeave      = signalling.TypeLeave
	TypeWelcome    = signalling.TypeWelcome
	TypeNeighbours = signalling.TypeNeighbours
	TypePolicy     = signalling.TypePolicy
	TypeBanned     = signalling.TypeBanned
	TypeError      = signalling.TypeError
	TypeStripe     = signalling.TypeStripe

	SignalOffer     = signalling.SignalOffer
	SignalAnswer    = signalling.SignalAnswer
	SignalCandidate = signalling.SignalCandidate

	CodeBadMessage   = signalling.CodeBadMessage
	CodeTooLarge     = signalling.CodeTooLarge
	CodeRateLimited  = signalling.CodeRateLimited
	CodeNotJoined    = signalling.CodeNotJoined
	CodeJoined       = signalling.CodeJoined
	CodeUnauthorized = signalling.CodeUnauthorized
	CodeNotNeighbour = signalling.CodeNotNeighbour
	CodeUnknownPeer  = signalling.CodeUnknownPeer
	CodeFull         = signalling.CodeFull
	CodeAddrLimit    = signalling.CodeAddrLimit
	CodeSlow         = signalling.CodeSlow
	CodeTimeout      = signalling.CodeTimeout
	CodeInternal     = signalling.CodeInternal
)

// Deprecated: alias kept while importers move to internal/signalling.
var (
	Encode        = signalling.Encode
	DecodeClient  = signalling.DecodeClient
	DecodeServer  = signalling.DecodeServer
	ValidName     = signalling.ValidName
	ValidPeerID   = signalling.ValidPeerID
	Dial          = signalling.Dial
	ErrBadMessage = signalling.ErrBadMessage
	ErrRejected   = signalling.ErrRejected
	ErrClosed     = signalling.ErrClosed
)

// Deprecated: alias kept while importers move to internal/swarm.
type (
	SwarmKey   = swarm.SwarmKey
	Peer       = swarm.Peer
	Counters   = swarm.Counters
	SwarmStats = swarm.SwarmStats
	Reporter   = swarm.Reporter
	Ban        = swarm.Ban
	Store      = swarm.Store
	MemStore   = swarm.MemStore
)

// Deprecated: alias kept while importers move to internal/swarm.
var (
	NewMemStore     = swarm.NewMemStore
	ErrPeerNotFound = swarm.ErrPeerNotFound
	ErrPeerExists   = swarm.ErrPeerExists
)
