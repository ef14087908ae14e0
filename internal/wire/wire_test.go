package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/shoal-cdn/shoal/internal/manifest"
)

func TestPieceSizeMatchesManifest(t *testing.T) {
	if PieceSize != manifest.PieceSize {
		t.Fatalf("wire.PieceSize %d != manifest.PieceSize %d", PieceSize, manifest.PieceSize)
	}
}

// TestValidate: Validate accepts what Decode accepts and, for a message that breaks a
// rule, returns the error that decoding its encoding returns.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		msg  Msg
		want error
	}{
		{"ok piece", Piece{Segment: s1, Index: 1, Data: []byte{1}}, nil},
		{"ok pointer", &Have{Segment: s1, First: 1, Count: 1}, nil},
		{"ok choke", Choke{Serial: 1}, nil},
		{"choke serial 0", &Choke{}, ErrInvalid},
		{"unchoke serial 0", Unchoke{}, ErrInvalid},
		{"hello version 0", Hello{Stream: "a", Rendition: "b", PeerID: "c"}, ErrInvalid},
		{"hello empty peer", Hello{MaxVersion: 1, Stream: "a", Rendition: "b"}, ErrInvalid},
		{"hello long rendition", Hello{MaxVersion: 1, Stream: "a", Rendition: strings.Repeat("b", 65), PeerID: "c"}, ErrTooLarge},
		{"epoch uppercase", Have{Segment: seg("Ab", 1), First: 0, Count: 1}, ErrInvalid},
		{"epoch too long", Cancel{Segment: seg(strings.Repeat("a", 17), 1), First: 0, Count: 1}, ErrTooLarge},
		{"request too many", Request{Segment: s1, First: 0, Count: MaxRequestPieces + 1}, ErrTooLarge},
		{"request past end", Request{Segment: s1, First: MaxPieces - 1, Count: 2}, ErrInvalid},
		{"reject count 0", Reject{Segment: s1, First: 0, Count: 0, Reason: ReasonChoked}, ErrInvalid},
		{"bitfield wrong length", BitfieldMsg{Segment: s1, Pieces: 9, Bits: NewBitfield(8)}, ErrShort},
		{"bitfield spare bit", BitfieldMsg{Segment: s1, Pieces: 9, Bits: Bitfield{0, 0x01}}, ErrInvalid},
		{"bitfield too many pieces", BitfieldMsg{Segment: s1, Pieces: MaxPieces + 8, Bits: NewBitfield(MaxPieces + 8)}, ErrTooLarge},
		{"piece empty", Piece{Segment: s1, Index: 1}, ErrInvalid},
		{"piece too big", Piece{Segment: s1, Index: 1, Data: make([]byte, PieceSize+1)}, ErrTooLarge},
		{"piece index", Piece{Segment: s1, Index: MaxPieces, Data: []byte{1}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.msg)
			want := tt.want
			if want == ErrShort {
				// A bitmap of the wrong length is a short or an overlong frame on the
				// wire; as a struct it is simply invalid.
				want = ErrInvalid
			}
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Fatalf("Validate = %v, want %v", err, want)
			}
			_, derr := Decode(Encode(nil, tt.msg))
			if !errors.Is(derr, tt.want) || (tt.want == nil) != (derr == nil) {
				t.Fatalf("Decode(Encode) = %v, want %v", derr, tt.want)
			}
		})
	}
}

func TestValidateRejectsForeignMsg(t *testing.T) {
	type embed struct{ Piece }
	for _, m := range []Msg{nil, embed{}, (*Piece)(nil)} {
		if err := Validate(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%#v) = %v, want ErrInvalid", m, err)
		}
		if b := Encode([]byte{7}, m); !bytes.Equal(b, []byte{7}) {
			t.Errorf("Encode(%#v) appended %x", m, b[1:])
		}
	}
}

func TestEncodeAppendsAndAcceptsPointers(t *testing.T) {
	for _, c := range goldenValid() {
		want := Encode(nil, c.msg)
		prefix := []byte("xyz")
		got := Encode(prefix, c.msg)
		if !bytes.Equal(got[:3], []byte("xyz")) || !bytes.Equal(got[3:], want) {
			t.Errorf("%s: Encode did not append", c.name)
		}
		if got := Encode(nil, pointerTo(c.msg)); !bytes.Equal(got, want) {
			t.Errorf("%s: pointer encodes to %x, want %x", c.name, got, want)
		}
	}
}

func pointerTo(m Msg) Msg {
	switch m := m.(type) {
	case Hello:
		return &m
	case BitfieldMsg:
		return &m
	case Have:
		return &m
	case Request:
		return &m
	case Piece:
		return &m
	case Cancel:
		return &m
	case Reject:
		return &m
	case Choke:
		return &m
	case Unchoke:
		return &m
	case Ping:
		return &m
	case Pong:
		return &m
	case Subscribe:
		return &m
	}
	panic("unreachable")
}

// TestDecodeAliasing documents the contract: piece data and bitmaps alias the frame,
// strings do not.
func TestDecodeAliasing(t *testing.T) {
	b := Encode(nil, Piece{Segment: s1, Index: 2, Data: []byte("abc")})
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p := m.(Piece)
	b[len(b)-1] = 'X'
	copy(b[3:], "zzzzzz") // overwrite the epoch bytes
	if string(p.Data) != "abX" {
		t.Errorf("Data = %q, want it to alias the frame", p.Data)
	}
	if p.Segment.Epoch != "mabc12" {
		t.Errorf("Epoch = %q, want a copy", p.Segment.Epoch)
	}
	// Appending to Data must not scribble over the frame past it.
	if cap(p.Data) != len(p.Data) {
		t.Errorf("cap(Data) = %d, want %d", cap(p.Data), len(p.Data))
	}

	b = Encode(nil, BitfieldMsg{Segment: s1, Pieces: 8, Bits: Bitfield{0x0f}})
	m, err = Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] = 0xf0
	if bf := m.(BitfieldMsg); !bf.Bits.Has(0) {
		t.Error("Bits does not alias the frame")
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypePiece.String(), "PIECE"},
		{TypePong.String(), "PONG"},
		{Type(0).String(), "TYPE(0x0)"},
		{Type(0xfe).String(), "TYPE(0xfe)"},
		{ReasonOverCap.String(), "over_cap"},
		{Reason(9).String(), "reason(9)"},
		{seg("mabc12", 41).String(), "mabc12-41"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestErrorMessagesNameTheField(t *testing.T) {
	_, err := Decode(frame(1, TypeRequest, segBytes, u32(0), u32(MaxRequestPieces+1)))
	if err == nil || !strings.Contains(err.Error(), "REQUEST count 257") {
		t.Fatalf("error %q does not name the message and field", err)
	}
}

// TestAllocations: encoding into a buffer with room and validating allocate nothing;
// decoding a PIECE allocates only the boxed message and the epoch string, never a copy
// of the data.
func TestAllocations(t *testing.T) {
	p := Piece{Segment: s1, Index: 3, Data: pattern(PieceSize)}
	buf := make([]byte, 0, MaxFrameSize)
	if n := testing.AllocsPerRun(100, func() { buf = Encode(buf[:0], p) }); n != 0 {
		t.Errorf("Encode: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Validate(p) }); n != 0 {
		t.Errorf("Validate: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(buf) }); n > 2 {
		t.Errorf("Decode PIECE: %v allocs, want <= 2", n)
	}
}
