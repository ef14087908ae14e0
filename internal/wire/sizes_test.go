package wire

import "testing"

// TestFrameSizes pins the smallest and largest frame of each type (docs/wire.md, the
// table under "Frame").
func TestFrameSizes(t *testing.T) {
	minSeg := seg("0", 0)
	tests := []struct {
		small, large Msg
		min, max     int
	}{
		{Hello{MaxVersion: 1, Stream: "a", Rendition: "b", PeerID: "c"}, Hello{MaxVersion: 1, Stream: name64, Rendition: name64, PeerID: peer64}, 13, 202},
		{BitfieldMsg{Segment: minSeg}, BitfieldMsg{Segment: maxSeg, Pieces: MaxPieces, Bits: NewBitfield(MaxPieces)}, 16, 2079},
		{Have{Segment: minSeg, Count: 1}, Have{Segment: maxSeg, Count: 1}, 20, 35},
		{Request{Segment: minSeg, Count: 1}, Request{Segment: maxSeg, Count: 1}, 20, 35},
		{Cancel{Segment: minSeg, Count: 1}, Cancel{Segment: maxSeg, Count: 1}, 20, 35},
		{Reject{Segment: minSeg, Count: 1}, Reject{Segment: maxSeg, Count: 1}, 21, 36},
		{Piece{Segment: minSeg, Data: []byte{1}}, Piece{Segment: maxSeg, Data: make([]byte, PieceSize)}, 17, MaxFrameSize},
		{Choke{Serial: 1}, Choke{Serial: 1}, 6, 6},
		{Unchoke{Serial: 1}, Unchoke{Serial: 1}, 6, 6},
		{Ping{}, Ping{}, 6, 6},
		{Pong{}, Pong{}, 6, 6},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			m    Msg
			want int
		}{{tt.small, tt.min}, {tt.large, tt.max}} {
			if err := Validate(c.m); err != nil {
				t.Fatalf("%s: %v", c.m.Type(), err)
			}
			if n := len(Encode(nil, c.m)); n != c.want {
				t.Errorf("%s frame is %d bytes, want %d", c.m.Type(), n, c.want)
			}
		}
	}
}
