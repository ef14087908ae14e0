package wire

import (
	"encoding/binary"
	"fmt"
)

// Decode parses one frame. Errors wrap ErrShort, ErrVersion, ErrTooLarge, ErrUnknownType
// or ErrInvalid; checks run in the order docs/wire.md ("Decoding") fixes, so every
// implementation reports the same error for the same bytes.
//
// Piece.Data and BitfieldMsg.Bits alias b: they stay valid only while b is not
// modified, so copy them before reusing the buffer. Strings are copied.
func Decode(b []byte) (Msg, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrShort, len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes > %d", ErrTooLarge, len(b), MaxFrameSize)
	}
	d := decoder{t: Type(b[1]), b: b[2:]}
	var m Msg
	var err error
	switch d.t {
	case TypeHello:
		m, err = d.hello()
	case TypeBitfield:
		m, err = d.bitfield()
	case TypeHave:
		var h Have
		h.Segment, h.First, h.Count, err = d.segmentRange(MaxPieces)
		m = h
	case TypeRequest:
		var r Request
		r.Segment, r.First, r.Count, err = d.segmentRange(MaxRequestPieces)
		m = r
	case TypeCancel:
		var c Cancel
		c.Segment, c.First, c.Count, err = d.segmentRange(MaxPieces)
		m = c
	case TypeReject:
		m, err = d.reject()
	case TypePiece:
		m, err = d.piece()
	case TypeChoke:
		var c Choke
		c.Serial, err = d.serial()
		m = c
	case TypeUnchoke:
		var u Unchoke
		u.Serial, err = d.serial()
		m = u
	case TypePing:
		var p Ping
		p.Token, err = d.u32("token")
		m = p
	case TypePong:
		var p Pong
		p.Token, err = d.u32("token")
		m = p
	case TypeSubscribe:
		m, err = d.subscribe()
	default:
		return nil, fmt.Errorf("%w: 0x%02x", ErrUnknownType, b[1])
	}
	if err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %s has %d trailing bytes", ErrInvalid, d.t, len(d.b))
	}
	return m, nil
}

// decoder consumes a frame body field by field; each field is checked as soon as it
// has been read.
type decoder struct {
	t Type
	b []byte
}

func (d *decoder) take(n int, what string) ([]byte, error) {
	if len(d.b) < n {
		return nil, fmt.Errorf("%w: %s %s needs %d bytes, %d left", ErrShort, d.t, what, n, len(d.b))
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p, nil
}

func (d *decoder) u8(what string) (uint8, error) {
	p, err := d.take(1, what)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *decoder) u32(what string) (uint32, error) {
	p, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	p, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(p), nil
}

// str reads a u8-length-prefixed string and checks it with checkName.
func (d *decoder) str(what string, max int, ok func(byte) bool) (string, error) {
	if len(d.b) == 0 {
		return "", fmt.Errorf("%w: %s %s length missing", ErrShort, d.t, what)
	}
	n := int(d.b[0])
	d.b = d.b[1:]
	p, err := d.take(n, what)
	if err != nil {
		return "", err
	}
	if err := checkName(d.t, what, p, max, ok); err != nil {
		return "", err
	}
	return string(p), nil
}

func (d *decoder) segment() (SegmentID, error) {
	e, err := d.str("epoch", MaxEpochLen, isEpochByte)
	if err != nil {
		return SegmentID{}, err
	}
	seq, err := d.u64("seq")
	return SegmentID{Epoch: e, Seq: seq}, err
}

func (d *decoder) segmentRange(maxCount uint32) (s SegmentID, first, count uint32, err error) {
	if s, err = d.segment(); err != nil {
		return
	}
	if first, err = d.u32("first"); err != nil {
		return
	}
	if count, err = d.u32("count"); err != nil {
		return
	}
	err = checkRange(d.t, first, count, maxCount)
	return
}

func (d *decoder) serial() (uint32, error) {
	s, err := d.u32("serial")
	if err != nil {
		return 0, err
	}
	return s, checkSerial(d.t, s)
}

func (d *decoder) subscribe() (Msg, error) {
	var m Subscribe
	var err error
	if m.Substreams, err = d.u8("substreams"); err != nil {
		return nil, err
	}
	if err = m.checkCount(); err != nil {
		return nil, err
	}
	if m.Mask, err = d.u32("mask"); err != nil {
		return nil, err
	}
	return m, m.checkMask()
}

func (d *decoder) hello() (Msg, error) {
	var h Hello
	var err error
	if h.MaxVersion, err = d.u8("max version"); err != nil {
		return nil, err
	}
	if err = checkVersion(h.MaxVersion); err != nil {
		return nil, err
	}
	if h.Stream, err = d.str("stream", MaxNameLen, isNameByte); err != nil {
		return nil, err
	}
	if h.Rendition, err = d.str("rendition", MaxNameLen, isNameByte); err != nil {
		return nil, err
	}
	if h.PeerID, err = d.str("peer id", MaxNameLen, isPeerIDByte); err != nil {
		return nil, err
	}
	if h.UploadKbps, err = d.u32("upload"); err != nil {
		return nil, err
	}
	return h, nil
}

func (d *decoder) bitfield() (Msg, error) {
	var m BitfieldMsg
	var err error
	if m.Segment, err = d.segment(); err != nil {
		return nil, err
	}
	if m.Pieces, err = d.u32("pieces"); err != nil {
		return nil, err
	}
	if err = checkPieces(m.Pieces); err != nil {
		return nil, err
	}
	bits, err := d.take(BitfieldLen(int(m.Pieces)), "bitmap")
	if err != nil {
		return nil, err
	}
	m.Bits = Bitfield(bits)
	if err = checkSpare(m.Pieces, m.Bits); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *decoder) reject() (Msg, error) {
	var r Reject
	var err error
	if r.Segment, r.First, r.Count, err = d.segmentRange(MaxPieces); err != nil {
		return nil, err
	}
	reason, err := d.u8("reason")
	r.Reason = Reason(reason)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (d *decoder) piece() (Msg, error) {
	var p Piece
	var err error
	if p.Segment, err = d.segment(); err != nil {
		return nil, err
	}
	if p.Index, err = d.u32("index"); err != nil {
		return nil, err
	}
	if err = checkIndex(p.Index); err != nil {
		return nil, err
	}
	p.Data, d.b = d.b[:len(d.b):len(d.b)], nil
	if err = checkData(p.Data); err != nil {
		return nil, err
	}
	return p, nil
}
