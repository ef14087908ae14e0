package wire

import "testing"

func TestBitfield(t *testing.T) {
	tests := []struct {
		pieces int
		set    []int
		bytes  string // hex of the result
		count  int
	}{
		{0, nil, "", 0},
		{0, []int{0, -1, 5}, "", 0},
		{1, []int{0}, "80", 1},
		{8, []int{0, 7}, "81", 2},
		{9, []int{8}, "0080", 1},
		{11, []int{0, 1, 7, 8, 10}, "c1a0", 5},
		{16, []int{3, 3, 99, -4}, "1000", 1},
	}
	for _, tt := range tests {
		b := NewBitfield(tt.pieces)
		if len(b) != BitfieldLen(tt.pieces) {
			t.Fatalf("len %d for %d pieces", len(b), tt.pieces)
		}
		for _, i := range tt.set {
			b.Set(i)
		}
		if got := hexOf(b); got != tt.bytes {
			t.Errorf("%d pieces, set %v: %s, want %s", tt.pieces, tt.set, got, tt.bytes)
		}
		if b.Count() != tt.count {
			t.Errorf("%d pieces, set %v: Count %d, want %d", tt.pieces, tt.set, b.Count(), tt.count)
		}
		for i := -2; i < len(b)*8+2; i++ {
			want := false
			for _, j := range tt.set {
				want = want || (i == j && i >= 0 && i < len(b)*8)
			}
			if b.Has(i) != want {
				t.Errorf("%d pieces, set %v: Has(%d) = %v", tt.pieces, tt.set, i, !want)
			}
		}
	}
}

func TestBitfieldClearAndRange(t *testing.T) {
	b := NewBitfield(20)
	b.SetRange(3, 10)
	if b.Count() != 10 || b.Has(2) || !b.Has(3) || !b.Has(12) || b.Has(13) {
		t.Fatalf("SetRange(3,10) = %s", hexOf(b))
	}
	b.Clear(3)
	b.Clear(100)
	b.Clear(-1)
	if b.Has(3) || b.Count() != 9 {
		t.Fatalf("after Clear(3): %s", hexOf(b))
	}
	b.SetRange(-5, 100) // clipped to the bitfield's bytes: spare bits too
	if b.Count() != 24 {
		t.Fatalf("SetRange(-5,100) count %d", b.Count())
	}
	var zero Bitfield
	zero.Set(0)
	zero.SetRange(0, 8)
	if zero.Has(0) || zero.Count() != 0 {
		t.Fatal("zero Bitfield is not empty")
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}
