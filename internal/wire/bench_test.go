package wire

import "testing"

// The benchmarks report allocations; the baseline to compare with is a plain copy of
// the piece into a frame (BenchmarkCopyPiece), run in the same process.

func benchPiece() Piece {
	return Piece{Segment: seg("mabc12", 41), Index: 17, Data: pattern(PieceSize)}
}

func BenchmarkCopyPiece(b *testing.B) {
	p := benchPiece()
	buf := make([]byte, 0, MaxFrameSize)
	b.SetBytes(PieceSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(buf[:0], p.Data...)
	}
}

func BenchmarkEncodePiece(b *testing.B) {
	p := benchPiece()
	buf := make([]byte, 0, MaxFrameSize)
	b.SetBytes(PieceSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = Encode(buf[:0], p)
	}
}

func BenchmarkDecodePiece(b *testing.B) {
	frame := Encode(nil, benchPiece())
	b.SetBytes(PieceSize)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if m.(Piece).Index != 17 {
			b.Fatal("wrong index")
		}
	}
}

func BenchmarkDecodeHave(b *testing.B) {
	frame := Encode(nil, Have{Segment: seg("mabc12", 41), First: 0, Count: 92})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
