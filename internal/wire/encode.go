package wire

import "encoding/binary"

// Encode appends the frame for m to dst and returns the extended slice. It does not
// check limits (see Validate): a string longer than 255 bytes is written with a wrong
// length byte. m is one of the package's message values or a pointer to one; a nil
// pointer or nil m appends nothing.
//
// The type switch (rather than a method call through the interface) keeps m from
// escaping, so encoding allocates nothing when dst has room.
func Encode(dst []byte, m Msg) []byte {
	switch m := m.(type) {
	case Hello:
		return m.appendTo(dst)
	case BitfieldMsg:
		return m.appendTo(dst)
	case Have:
		return m.appendTo(dst)
	case Request:
		return m.appendTo(dst)
	case Piece:
		return m.appendTo(dst)
	case Cancel:
		return m.appendTo(dst)
	case Reject:
		return m.appendTo(dst)
	case Choke:
		return m.appendTo(dst)
	case Unchoke:
		return m.appendTo(dst)
	case Ping:
		return m.appendTo(dst)
	case Pong:
		return m.appendTo(dst)
	case Subscribe:
		return m.appendTo(dst)
	case *Hello:
		return appendPtr(dst, m)
	case *BitfieldMsg:
		return appendPtr(dst, m)
	case *Have:
		return appendPtr(dst, m)
	case *Request:
		return appendPtr(dst, m)
	case *Piece:
		return appendPtr(dst, m)
	case *Cancel:
		return appendPtr(dst, m)
	case *Reject:
		return appendPtr(dst, m)
	case *Choke:
		return appendPtr(dst, m)
	case *Unchoke:
		return appendPtr(dst, m)
	case *Ping:
		return appendPtr(dst, m)
	case *Pong:
		return appendPtr(dst, m)
	case *Subscribe:
		return appendPtr(dst, m)
	}
	return dst
}

func appendPtr[T interface{ appendTo([]byte) []byte }](dst []byte, p *T) []byte {
	if p == nil {
		return dst
	}
	return (*p).appendTo(dst)
}

func header(dst []byte, t Type) []byte { return append(dst, Version, byte(t)) }

func (m Hello) appendTo(dst []byte) []byte {
	dst = append(header(dst, TypeHello), m.MaxVersion)
	dst = appendString(dst, m.Stream)
	dst = appendString(dst, m.Rendition)
	dst = appendString(dst, m.PeerID)
	return binary.BigEndian.AppendUint32(dst, m.UploadKbps)
}

func (m BitfieldMsg) appendTo(dst []byte) []byte {
	dst = appendSegment(header(dst, TypeBitfield), m.Segment)
	dst = binary.BigEndian.AppendUint32(dst, m.Pieces)
	return append(dst, m.Bits...)
}

func (m Have) appendTo(dst []byte) []byte {
	return appendRange(header(dst, TypeHave), m.Segment, m.First, m.Count)
}

func (m Request) appendTo(dst []byte) []byte {
	return appendRange(header(dst, TypeRequest), m.Segment, m.First, m.Count)
}

func (m Cancel) appendTo(dst []byte) []byte {
	return appendRange(header(dst, TypeCancel), m.Segment, m.First, m.Count)
}

func (m Reject) appendTo(dst []byte) []byte {
	dst = appendRange(header(dst, TypeReject), m.Segment, m.First, m.Count)
	return append(dst, byte(m.Reason))
}

func (m Piece) appendTo(dst []byte) []byte {
	dst = appendSegment(header(dst, TypePiece), m.Segment)
	dst = binary.BigEndian.AppendUint32(dst, m.Index)
	return append(dst, m.Data...)
}

func (m Choke) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(header(dst, TypeChoke), m.Serial)
}

func (m Unchoke) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(header(dst, TypeUnchoke), m.Serial)
}

func (m Ping) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(header(dst, TypePing), m.Token)
}

func (m Subscribe) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(append(header(dst, TypeSubscribe), m.Substreams), m.Mask)
}

func (m Pong) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(header(dst, TypePong), m.Token)
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendSegment(dst []byte, s SegmentID) []byte {
	dst = appendString(dst, s.Epoch)
	return binary.BigEndian.AppendUint64(dst, s.Seq)
}

func appendRange(dst []byte, s SegmentID, first, count uint32) []byte {
	dst = appendSegment(dst, s)
	dst = binary.BigEndian.AppendUint32(dst, first)
	return binary.BigEndian.AppendUint32(dst, count)
}
