package signalling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/shoal-cdn/shoal/internal/media"
)

// Message is one JSON message of the tracker protocol (docs/tracker.md). On the wire it
// is a JSON object whose "type" member is Type() and whose other members are the fields
// of the concrete struct.
type Message interface {
	Type() string
}

// Message types.
const (
	TypeJoin       = "join"
	TypeSignal     = "signal"
	TypeStats      = "stats"
	TypeReport     = "report"
	TypeLeave      = "leave"
	TypeWelcome    = "welcome"
	TypeNeighbours = "neighbours"
	TypePolicy     = "policy"
	TypeBanned     = "banned"
	TypeError      = "error"
	TypeStripe     = "stripe"
)

// Signal data types (WebRTC, trickle ICE).
const (
	SignalOffer     = "offer"
	SignalAnswer    = "answer"
	SignalCandidate = "candidate"
)

// Join (client → server) enters the swarm (Stream, Rendition). It must be the first
// message on a connection.
type Join struct {
	Stream         string `json:"stream"`
	Rendition      string `json:"rendition"`
	UploadCapacity int64  `json:"upload_capacity"`  // bit/s the peer offers to upload; 0 = unknown
	Region         string `json:"region,omitempty"` // operator-defined locality label
	Token          string `json:"token,omitempty"`  // viewer token (or ?token= on the upgrade request)
	// Position is where a viewer of an on-demand title starts playing, in seconds
	// from its start; absent for a live stream. The tracker introduces viewers that
	// play near each other first.
	Position *float64 `json:"position,omitempty"`
}

// ICECandidate is an RTCIceCandidateInit (browser) / webrtc.ICECandidateInit (pion).
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// SignalData is the opaque WebRTC payload the tracker relays: an SDP offer or answer, or
// one trickled ICE candidate.
type SignalData struct {
	Type      string        `json:"type"`
	SDP       string        `json:"sdp,omitempty"`
	Candidate *ICECandidate `json:"candidate,omitempty"`
}

// Signal carries SignalData between two neighbours: To is set by the sender
// (client → server), From by the tracker when relaying (server → client).
type Signal struct {
	To   string     `json:"to,omitempty"`
	From string     `json:"from,omitempty"`
	Data SignalData `json:"data"`
}

// Stats (client → server) are the peer's cumulative counters since it joined. Counters
// that go backwards are ignored (clamped), so resending is harmless.
type Stats struct {
	BytesCDN uint64  `json:"bytes_cdn"`
	BytesP2P uint64  `json:"bytes_p2p"`
	BytesUp  uint64  `json:"bytes_up"`
	Stalls   uint64  `json:"stalls"`
	Playhead float64 `json:"playhead,omitempty"` // seconds of media time played
	Peers    int     `json:"peers,omitempty"`    // connected neighbours
	// QoE, for the operator's console: join → playback began (once started), and the
	// total time stalled since; with Playhead they give the rebuffer ratio.
	StartupMs uint64 `json:"startup_ms,omitempty"`
	StalledMs uint64 `json:"stalled_ms,omitempty"`
	// Position: a title's viewer says where it plays now (seconds from the start; absent
	// for live). After a seek the tracker swaps far neighbours for near ones.
	Position *float64 `json:"position,omitempty"`
}

// Report (client → server) accuses neighbour Peer of sending a piece that failed
// verification.
type Report struct {
	Peer    string `json:"peer"`
	Segment string `json:"segment"` // segment identity, e.g. "{epoch}-{seq}"
	Piece   int    `json:"piece"`
	Reason  string `json:"reason,omitempty"` // e.g. "hash_mismatch"
}

// Leave (client → server) leaves the swarm; the tracker then closes the connection.
type Leave struct{}

// Neighbour is one peer introduced by the tracker. Exactly one side of a pair has
// Initiator set (the peer that joined later); that side sends the WebRTC offer.
type Neighbour struct {
	PeerID    string `json:"peer_id"`
	Initiator bool   `json:"initiator"`
}

// Welcome (server → client) answers a join.
type Welcome struct {
	PeerID     string      `json:"peer_id"`
	Policy     Policy      `json:"policy"`
	Neighbours []Neighbour `json:"neighbours"`
	Stripe     Stripe      `json:"stripe,omitzero"` // the peer's seeding assignment; absent = not a seeder
	// Trackers and Edges are the operator's other tracker nodes (ws:// or wss://
	// …/tracker) and edges (http:// or https://) to fail over to; absent = none
	// advertised (docs/tracker.md "welcome").
	Trackers []string `json:"trackers,omitempty"`
	Edges    []string `json:"edges,omitempty"`
}

// Bounds of a welcome's failover lists.
const (
	MaxWelcomeURLs = 16
	MaxURLBytes    = 512
)

// CheckFailoverURLs checks lists meant for a welcome's trackers and edges.
func CheckFailoverURLs(trackers, edges []string) error {
	if err := validateURLs("trackers", trackers, "ws://", "wss://"); err != nil {
		return err
	}
	return validateURLs("edges", edges, "http://", "https://")
}

func validateURLs(what string, urls []string, schemes ...string) error {
	if len(urls) > MaxWelcomeURLs {
		return fmt.Errorf("%d %s, at most %d", len(urls), what, MaxWelcomeURLs)
	}
	for _, u := range urls {
		ok := false
		for _, sc := range schemes {
			ok = ok || (strings.HasPrefix(u, sc) && len(u) > len(sc))
		}
		if !ok || len(u) > MaxURLBytes {
			return fmt.Errorf("bad %s URL %q: want %v, at most %d bytes", what, u, schemes, MaxURLBytes)
		}
	}
	return nil
}

// Stripe (server → client) makes the peer the seeder of stripe Index of Count for every
// new segment: it fetches those pieces from the edge as soon as the segment is listed
// and the swarm spreads them (docs/tracker.md "Seeding"). The zero value (Count 0)
// means not a seeder. The welcome carries the first assignment; a stripe message
// replaces it whenever it changes. It converts to scheduler.Stripe.
type Stripe struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Neighbours (server → client) changes the neighbour set.
type Neighbours struct {
	Add    []Neighbour `json:"add,omitempty"`
	Remove []string    `json:"remove,omitempty"`
}

// Banned (server → client) precedes the close of a banned peer's connection.
type Banned struct {
	Reason string `json:"reason"`
}

// Error (server → client) reports a refused or invalid message. It is also returned as
// a Go error by Client.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (Join) Type() string       { return TypeJoin }
func (Signal) Type() string     { return TypeSignal }
func (Stats) Type() string      { return TypeStats }
func (Report) Type() string     { return TypeReport }
func (Leave) Type() string      { return TypeLeave }
func (Welcome) Type() string    { return TypeWelcome }
func (Neighbours) Type() string { return TypeNeighbours }
func (Policy) Type() string     { return TypePolicy }
func (Banned) Type() string     { return TypeBanned }
func (Error) Type() string      { return TypeError }
func (Stripe) Type() string     { return TypeStripe }

func (e *Error) Error() string { return "tracker: " + e.Code + ": " + e.Message }

// Encode renders m as one JSON object with its "type" member first.
func Encode(m Message) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("signalling: encode %s: %w", m.Type(), err)
	}
	var b bytes.Buffer
	b.Grow(len(body) + 20)
	b.WriteString(`{"type":"`)
	b.WriteString(m.Type())
	b.WriteByte('"')
	if len(body) > 2 { // "{}" has no members to append
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// DecodeClient parses and validates one client → server message: *Join, *Signal,
// *Stats, *Report or *Leave. Errors wrap ErrBadMessage and say what is wrong.
func DecodeClient(b []byte) (Message, error) {
	typ, err := messageType(b)
	if err != nil {
		return nil, err
	}
	var m Message
	switch typ {
	case TypeJoin:
		m = &Join{}
	case TypeSignal:
		m = &Signal{}
	case TypeStats:
		m = &Stats{}
	case TypeReport:
		m = &Report{}
	case TypeLeave:
		m = &Leave{}
	default:
		return nil, fmt.Errorf("%w: unknown client message type %q", ErrBadMessage, typ)
	}
	return decodeInto(b, m, true)
}

// DecodeServer parses and validates one server → client message: *Welcome, *Neighbours,
// *Signal, *Policy, *Stripe, *Banned or *Error.
func DecodeServer(b []byte) (Message, error) {
	typ, err := messageType(b)
	if err != nil {
		return nil, err
	}
	var m Message
	switch typ {
	case TypeWelcome:
		m = &Welcome{}
	case TypeNeighbours:
		m = &Neighbours{}
	case TypeSignal:
		m = &Signal{}
	case TypePolicy:
		m = &Policy{}
	case TypeStripe:
		m = &Stripe{}
	case TypeBanned:
		m = &Banned{}
	case TypeError:
		m = &Error{}
	default:
		return nil, fmt.Errorf("%w: unknown server message type %q", ErrBadMessage, typ)
	}
	return decodeInto(b, m, false)
}

func messageType(b []byte) (string, error) {
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if env.Type == "" {
		return "", fmt.Errorf("%w: missing \"type\"", ErrBadMessage)
	}
	return env.Type, nil
}

func decodeInto(b []byte, m Message, fromClient bool) (Message, error) {
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadMessage, m.Type(), err)
	}
	if n, ok := m.(*Neighbours); ok { // [] and absent mean the same; keep one form
		if len(n.Add) == 0 {
			n.Add = nil
		}
		if len(n.Remove) == 0 {
			n.Remove = nil
		}
	}
	if err := validate(m, fromClient); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadMessage, m.Type(), err)
	}
	return m, nil
}

// MaxPosition bounds a title position: 1,000 hours, in seconds.
const MaxPosition = 3.6e6

// checkPosition: absent, or a number in [0, MaxPosition] (NaN is not).
func checkPosition(p *float64) error {
	if p == nil || (*p >= 0 && *p <= MaxPosition) {
		return nil
	}
	return fmt.Errorf("position %v out of range [0, %g]", *p, float64(MaxPosition))
}

// MaxBitrate bounds every bit/s figure (upload_capacity, a policy's max_upload):
// 10 Tbit/s, anything above is a lie or a unit mistake.
const MaxBitrate = 1e13

// ValidRegion reports whether s can be a region label: [A-Za-z0-9_.:/-]{0,64}.
func ValidRegion(s string) bool { return validRegion(s) }

// Limits on free-form fields; a whole message is further bounded by MaxMessageBytes.
const (
	maxTokenLen   = 1024
	maxRegionLen  = 64
	maxSegmentLen = 128
	maxReasonLen  = 128
	maxCapacity   = MaxBitrate
	maxStripes    = 1024 // the tracker assigns at most 32 (swarm.SeedCount); room to grow
)

func validate(m Message, fromClient bool) error {
	switch m := m.(type) {
	case *Join:
		switch {
		case !ValidName(m.Stream):
			return fmt.Errorf("stream %q must match [A-Za-z0-9_-]{1,64}", m.Stream)
		case !ValidName(m.Rendition):
			return fmt.Errorf("rendition %q must match [A-Za-z0-9_-]{1,64}", m.Rendition)
		case m.UploadCapacity < 0 || m.UploadCapacity > maxCapacity:
			return fmt.Errorf("upload_capacity %d out of range [0, 1e13]", m.UploadCapacity)
		case !validRegion(m.Region):
			return fmt.Errorf("region must match [A-Za-z0-9_.:/-]{0,%d}", maxRegionLen)
		case len(m.Token) > maxTokenLen:
			return fmt.Errorf("token longer than %d bytes", maxTokenLen)
		}
		return checkPosition(m.Position)
	case *Signal:
		if fromClient && !ValidPeerID(m.To) {
			return fmt.Errorf("bad \"to\" peer id %q", m.To)
		}
		if !fromClient && !ValidPeerID(m.From) {
			return fmt.Errorf("bad \"from\" peer id %q", m.From)
		}
		return validateSignalData(&m.Data)
	case *Stats:
		if math.IsNaN(m.Playhead) || math.IsInf(m.Playhead, 0) || m.Playhead < 0 {
			return fmt.Errorf("playhead %v must be a non-negative number", m.Playhead)
		}
		if m.Peers < 0 {
			return fmt.Errorf("peers %d must be non-negative", m.Peers)
		}
		return checkPosition(m.Position)
	case *Report:
		switch {
		case !ValidPeerID(m.Peer):
			return fmt.Errorf("bad \"peer\" id %q", m.Peer)
		case m.Segment == "" || len(m.Segment) > maxSegmentLen:
			return fmt.Errorf("segment must be 1..%d bytes", maxSegmentLen)
		case m.Piece < 0:
			return fmt.Errorf("piece %d must be non-negative", m.Piece)
		case len(m.Reason) > maxReasonLen:
			return fmt.Errorf("reason longer than %d bytes", maxReasonLen)
		}
	case *Welcome:
		if !ValidPeerID(m.PeerID) {
			return fmt.Errorf("bad peer_id %q", m.PeerID)
		}
		if err := validateStripe(m.Stripe); err != nil {
			return err
		}
		if err := CheckFailoverURLs(m.Trackers, m.Edges); err != nil {
			return err
		}
		// An empty list is an absent one (both encode to nothing): one form, so a
		// decoded welcome encodes and decodes back to itself.
		if len(m.Trackers) == 0 {
			m.Trackers = nil
		}
		if len(m.Edges) == 0 {
			m.Edges = nil
		}
		return validateNeighbours(m.Neighbours)
	case *Neighbours:
		if err := validateNeighbours(m.Add); err != nil {
			return err
		}
		for _, id := range m.Remove {
			if !ValidPeerID(id) {
				return fmt.Errorf("bad removed peer id %q", id)
			}
		}
	case *Policy:
		if m.MaxUpload < 0 || m.Neighbours < 0 {
			return fmt.Errorf("max_upload and neighbours must be non-negative")
		}
	case *Stripe:
		return validateStripe(*m)
	case *Error:
		if m.Code == "" {
			return fmt.Errorf("missing code")
		}
	}
	return nil
}

func validateSignalData(d *SignalData) error {
	switch d.Type {
	case SignalOffer, SignalAnswer:
		if d.SDP == "" {
			return fmt.Errorf("%s without sdp", d.Type)
		}
		if d.Candidate != nil {
			return fmt.Errorf("%s must not carry a candidate", d.Type)
		}
	case SignalCandidate:
		if d.Candidate == nil {
			return fmt.Errorf("candidate without \"candidate\" object")
		}
		if d.SDP != "" {
			return fmt.Errorf("candidate must not carry sdp")
		}
	default:
		return fmt.Errorf("data.type %q must be offer, answer or candidate", d.Type)
	}
	return nil
}

func validateStripe(s Stripe) error {
	switch {
	case s.Count < 0 || s.Count > maxStripes:
		return fmt.Errorf("stripe count %d out of range [0, %d]", s.Count, maxStripes)
	case s.Count == 0 && s.Index != 0:
		return fmt.Errorf("stripe index %d without a count", s.Index)
	case s.Count > 0 && (s.Index < 0 || s.Index >= s.Count):
		return fmt.Errorf("stripe index %d out of range [0, %d)", s.Index, s.Count)
	}
	return nil
}

func validateNeighbours(ns []Neighbour) error {
	for _, n := range ns {
		if !ValidPeerID(n.PeerID) {
			return fmt.Errorf("bad neighbour peer id %q", n.PeerID)
		}
	}
	return nil
}

// ValidName reports whether s is a valid stream or rendition name: [A-Za-z0-9_-]{1,64},
// the origin's rule (media.ValidName).
func ValidName(s string) bool { return media.ValidName(s) }

// ValidPeerID reports whether s can be a peer id: [A-Za-z0-9_-]{1,64}. The tracker
// issues 22-character base64url ids (128 random bits).
func ValidPeerID(s string) bool { return ValidName(s) }

func validRegion(s string) bool {
	if len(s) > maxRegionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':' || c == '/') {
			return false
		}
	}
	return true
}
