package wire

import "strconv"

// Type is a frame's message type byte.
type Type uint8

// Message types of version 1. Bytes 0x00 and 0x0d–0xff are unassigned: Decode reports
// them as ErrUnknownType and receivers ignore such frames.
const (
	TypeHello    Type = 0x01
	TypeBitfield Type = 0x02
	TypeHave     Type = 0x03
	TypeRequest  Type = 0x04
	TypePiece    Type = 0x05
	TypeCancel   Type = 0x06
	TypeReject   Type = 0x07
	TypeChoke    Type = 0x08
	TypeUnchoke  Type = 0x09
	TypePing     Type = 0x0a
	TypePong     Type = 0x0b
	// TypeSubscribe was added within version 1 (ignoring it is harmless: the
	// sender then pulls everything, as before).
	TypeSubscribe Type = 0x0c
)

var typeNames = [...]string{
	TypeHello:     "HELLO",
	TypeBitfield:  "BITFIELD",
	TypeHave:      "HAVE",
	TypeRequest:   "REQUEST",
	TypePiece:     "PIECE",
	TypeCancel:    "CANCEL",
	TypeReject:    "REJECT",
	TypeChoke:     "CHOKE",
	TypeUnchoke:   "UNCHOKE",
	TypePing:      "PING",
	TypePong:      "PONG",
	TypeSubscribe: "SUBSCRIBE",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "TYPE(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// Msg is one decoded frame. The implementations are the value types of this package
// (Hello, BitfieldMsg, Have, Request, Piece, Cancel, Reject, Choke, Unchoke, Ping,
// Pong, Subscribe); Decode returns them as values, and Encode also accepts pointers to them.
type Msg interface {
	Type() Type
	isMsg()
}

// Hello opens a connection; each side sends it first, exactly once.
type Hello struct {
	// MaxVersion is the highest protocol version the sender speaks (1 here). Both
	// sides then use the smaller of the two maxima for every later frame.
	MaxVersion uint8
	// Stream and Rendition name the swarm; both match [A-Za-z0-9_-]{1,64}.
	Stream, Rendition string
	// PeerID is the sender's id as assigned by the tracker, [A-Za-z0-9._~-]{1,64}.
	PeerID string
	// UploadKbps is the sender's upload capacity hint in kbit/s; 0 means it does not
	// upload at all.
	UploadKbps uint32
}

// BitfieldMsg states every piece of one segment the sender holds, replacing what the
// receiver knew. Pieces is the segment's piece count, or 0 to withdraw the segment.
type BitfieldMsg struct {
	Segment SegmentID
	Pieces  uint32
	// Bits has exactly BitfieldLen(Pieces) bytes, spare bits zero. Decode aliases it to
	// the frame.
	Bits Bitfield
}

// Have announces that the sender now holds, verified, pieces [First, First+Count).
type Have struct {
	Segment      SegmentID
	First, Count uint32
}

// Request asks for pieces [First, First+Count); Count is at most MaxRequestPieces.
type Request struct {
	Segment      SegmentID
	First, Count uint32
}

// Piece carries one piece: bytes [Index*PieceSize, …) of the segment, 1..PieceSize
// bytes. Decode aliases Data to the frame: copy it before reusing the frame buffer.
type Piece struct {
	Segment SegmentID
	Index   uint32
	Data    []byte
}

// Cancel withdraws requests for pieces [First, First+Count).
type Cancel struct {
	Segment      SegmentID
	First, Count uint32
}

// Reject refuses requested pieces [First, First+Count) for Reason.
type Reject struct {
	Segment      SegmentID
	First, Count uint32
	Reason       Reason
}

// Choke tells the receiver its requests will not be served; it voids every request
// the sender has not answered yet.
type Choke struct {
	// Serial orders choke-state changes on the unordered channel: the sender counts
	// every CHOKE and UNCHOKE it sends, from 1; the receiver ignores one whose Serial is
	// not above the last it applied.
	Serial uint32
}

// Unchoke tells the receiver it may send requests. Serial as in Choke.
type Unchoke struct{ Serial uint32 }

// Ping asks for a Pong carrying the same Token (RTT measurement).
type Ping struct{ Token uint32 }

// Pong answers a Ping.
type Pong struct{ Token uint32 }

// Subscribe asks the receiver to push, without a REQUEST, every piece it verifies
// from now on of the substreams set in Mask, where piece i of segment seq is in
// substream (i + seq) mod Substreams. It replaces the previous subscription; Mask 0
// ends it.
type Subscribe struct {
	Substreams uint8  // 1..MaxSubstreams
	Mask       uint32 // bit j: substream j; no bit at or above Substreams
}

func (Hello) Type() Type       { return TypeHello }
func (BitfieldMsg) Type() Type { return TypeBitfield }
func (Have) Type() Type        { return TypeHave }
func (Request) Type() Type     { return TypeRequest }
func (Piece) Type() Type       { return TypePiece }
func (Cancel) Type() Type      { return TypeCancel }
func (Reject) Type() Type      { return TypeReject }
func (Choke) Type() Type       { return TypeChoke }
func (Unchoke) Type() Type     { return TypeUnchoke }
func (Ping) Type() Type        { return TypePing }
func (Pong) Type() Type        { return TypePong }
func (Subscribe) Type() Type   { return TypeSubscribe }

func (Hello) isMsg()       {}
func (BitfieldMsg) isMsg() {}
func (Have) isMsg()        {}
func (Request) isMsg()     {}
func (Piece) isMsg()       {}
func (Cancel) isMsg()      {}
func (Reject) isMsg()      {}
func (Choke) isMsg()       {}
func (Unchoke) isMsg()     {}
func (Ping) isMsg()        {}
func (Pong) isMsg()        {}
func (Subscribe) isMsg()   {}

// Reason says why a Reject refused pieces. Decode accepts any value; a receiver treats
// a reason it does not know like ReasonUnspecified.
type Reason uint8

// Reject reasons.
const (
	ReasonUnspecified    Reason = 0
	ReasonNotHeld        Reason = 1 // the sender does not hold (all of) these pieces
	ReasonChoked         Reason = 2 // the sender is choking the receiver
	ReasonOverCap        Reason = 3 // upload cap or request queue full; retry later or elsewhere
	ReasonUnknownSegment Reason = 4 // the segment is not (or no longer) in the sender's window
)

func (r Reason) String() string {
	switch r {
	case ReasonUnspecified:
		return "unspecified"
	case ReasonNotHeld:
		return "not_held"
	case ReasonChoked:
		return "choked"
	case ReasonOverCap:
		return "over_cap"
	case ReasonUnknownSegment:
		return "unknown_segment"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}
