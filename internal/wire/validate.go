package wire

import "fmt"

// Validate reports whether m encodes to a frame Decode accepts, with the error Decode
// would return (ErrTooLarge or ErrInvalid). Encode does not check: validate messages
// built from untrusted values first.
func Validate(m Msg) error {
	// A type switch, as in Encode, so that m does not escape.
	switch m := m.(type) {
	case Hello:
		return m.validate()
	case BitfieldMsg:
		return m.validate()
	case Have:
		return m.validate()
	case Request:
		return m.validate()
	case Piece:
		return m.validate()
	case Cancel:
		return m.validate()
	case Reject:
		return m.validate()
	case Choke:
		return m.validate()
	case Unchoke:
		return m.validate()
	case Ping, Pong:
		return nil // every token is valid
	case Subscribe:
		return m.validate()
	case *Subscribe:
		return validatePtr(m)
	case *Hello:
		return validatePtr(m)
	case *BitfieldMsg:
		return validatePtr(m)
	case *Have:
		return validatePtr(m)
	case *Request:
		return validatePtr(m)
	case *Piece:
		return validatePtr(m)
	case *Cancel:
		return validatePtr(m)
	case *Reject:
		return validatePtr(m)
	case *Choke:
		return validatePtr(m)
	case *Unchoke:
		return validatePtr(m)
	case *Ping:
		if m != nil {
			return nil
		}
	case *Pong:
		if m != nil {
			return nil
		}
	}
	return fmt.Errorf("%w: not a wire message (nil, or a foreign type)", ErrInvalid)
}

func validatePtr[T interface{ validate() error }](p *T) error {
	if p == nil {
		return fmt.Errorf("%w: nil message", ErrInvalid)
	}
	return (*p).validate()
}

func (m Have) validate() error {
	return checkSegmentRange(TypeHave, m.Segment, m.First, m.Count, MaxPieces)
}

func (m Request) validate() error {
	return checkSegmentRange(TypeRequest, m.Segment, m.First, m.Count, MaxRequestPieces)
}

func (m Cancel) validate() error {
	return checkSegmentRange(TypeCancel, m.Segment, m.First, m.Count, MaxPieces)
}

func (m Reject) validate() error {
	return checkSegmentRange(TypeReject, m.Segment, m.First, m.Count, MaxPieces)
}

func (m Choke) validate() error   { return checkSerial(TypeChoke, m.Serial) }
func (m Unchoke) validate() error { return checkSerial(TypeUnchoke, m.Serial) }

func (m Hello) validate() error {
	if err := checkVersion(m.MaxVersion); err != nil {
		return err
	}
	if err := checkName(TypeHello, "stream", m.Stream, MaxNameLen, isNameByte); err != nil {
		return err
	}
	if err := checkName(TypeHello, "rendition", m.Rendition, MaxNameLen, isNameByte); err != nil {
		return err
	}
	return checkName(TypeHello, "peer id", m.PeerID, MaxNameLen, isPeerIDByte)
}

func (m BitfieldMsg) validate() error {
	if err := checkSegment(TypeBitfield, m.Segment); err != nil {
		return err
	}
	if err := checkPieces(m.Pieces); err != nil {
		return err
	}
	if len(m.Bits) != BitfieldLen(int(m.Pieces)) {
		return fmt.Errorf("%w: BITFIELD of %d pieces has %d bytes, want %d",
			ErrInvalid, m.Pieces, len(m.Bits), BitfieldLen(int(m.Pieces)))
	}
	return checkSpare(m.Pieces, m.Bits)
}

func (m Piece) validate() error {
	if err := checkSegment(TypePiece, m.Segment); err != nil {
		return err
	}
	if err := checkIndex(m.Index); err != nil {
		return err
	}
	return checkData(m.Data)
}

func checkSerial(t Type, s uint32) error {
	if s == 0 {
		return fmt.Errorf("%w: %s serial 0", ErrInvalid, t)
	}
	return nil
}

func checkVersion(v uint8) error {
	if v == 0 {
		return fmt.Errorf("%w: HELLO max version 0", ErrInvalid)
	}
	return nil
}

// checkName checks a length-prefixed string: 1..max bytes, each accepted by ok.
func checkName[S ~string | ~[]byte](t Type, what string, s S, max int, ok func(byte) bool) error {
	if len(s) == 0 {
		return fmt.Errorf("%w: %s empty %s", ErrInvalid, t, what)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s %s of %d bytes > %d", ErrTooLarge, t, what, len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return fmt.Errorf("%w: %s %s has byte 0x%02x", ErrInvalid, t, what, s[i])
		}
	}
	return nil
}

func checkSegment(t Type, s SegmentID) error {
	return checkName(t, "epoch", s.Epoch, MaxEpochLen, isEpochByte)
}

func checkSegmentRange(t Type, s SegmentID, first, count, maxCount uint32) error {
	if err := checkSegment(t, s); err != nil {
		return err
	}
	return checkRange(t, first, count, maxCount)
}

// checkRange: 1 <= count <= maxCount and first+count <= MaxPieces.
func checkRange(t Type, first, count, maxCount uint32) error {
	if count == 0 {
		return fmt.Errorf("%w: %s count 0", ErrInvalid, t)
	}
	if count > maxCount {
		return fmt.Errorf("%w: %s count %d > %d", ErrTooLarge, t, count, maxCount)
	}
	if uint64(first)+uint64(count) > MaxPieces {
		return fmt.Errorf("%w: %s pieces [%d, %d+%d) past %d", ErrInvalid, t, first, first, count, MaxPieces)
	}
	return nil
}

func checkPieces(n uint32) error {
	if n > MaxPieces {
		return fmt.Errorf("%w: BITFIELD of %d pieces > %d", ErrTooLarge, n, MaxPieces)
	}
	return nil
}

func checkSpare(n uint32, b Bitfield) error {
	if n%8 != 0 && b[len(b)-1]&(0xff>>(n%8)) != 0 {
		return fmt.Errorf("%w: BITFIELD spare bits set", ErrInvalid)
	}
	return nil
}

func checkIndex(i uint32) error {
	if i >= MaxPieces {
		return fmt.Errorf("%w: PIECE index %d >= %d", ErrInvalid, i, MaxPieces)
	}
	return nil
}

func checkData(d []byte) error {
	if len(d) == 0 {
		return fmt.Errorf("%w: PIECE without data", ErrInvalid)
	}
	if len(d) > PieceSize {
		return fmt.Errorf("%w: PIECE data of %d bytes > %d", ErrTooLarge, len(d), PieceSize)
	}
	return nil
}

func (m Subscribe) validate() error {
	if err := m.checkCount(); err != nil {
		return err
	}
	return m.checkMask()
}

func (m Subscribe) checkCount() error {
	switch {
	case m.Substreams == 0:
		return fmt.Errorf("%w: SUBSCRIBE with 0 substreams", ErrInvalid)
	case m.Substreams > MaxSubstreams:
		return fmt.Errorf("%w: SUBSCRIBE with %d substreams (max %d)", ErrTooLarge, m.Substreams, MaxSubstreams)
	}
	return nil
}

func (m Subscribe) checkMask() error {
	if m.Substreams < 32 && m.Mask>>m.Substreams != 0 {
		return fmt.Errorf("%w: SUBSCRIBE mask %#x has bits at or above %d substreams", ErrInvalid, m.Mask, m.Substreams)
	}
	return nil
}
