package media

import (
	"bytes"
	"slices"
	"testing"
)

// tsPackets builds MPEG-TS packets: each spec is {pid, afc, cc}.
func tsPackets(specs ...[3]int) []byte {
	var b []byte
	for _, s := range specs {
		p := make([]byte, tsPacketSize)
		p[0] = 0x47
		p[1] = byte(s[0] >> 8 & 0x1f)
		p[2] = byte(s[0])
		p[3] = byte(s[1]<<4 | s[2])
		b = append(b, p...)
	}
	return b
}

func ccs(b []byte) []int {
	var out []int
	for off := 0; off+tsPacketSize <= len(b); off += tsPacketSize {
		out = append(out, int(b[off+3]&0x0f))
	}
	return out
}

func TestTSContinuity(t *testing.T) {
	const video, audio, null = 0x100, 0x101, 0x1fff
	// First segment: counters as a muxer writes them, including an adaptation-only
	// packet (afc 2) that repeats the counter, and a wrap 15 → 0.
	seg1 := tsPackets([3]int{video, 1, 14}, [3]int{audio, 1, 3}, [3]int{video, 2, 14}, [3]int{video, 3, 15},
		[3]int{null, 1, 7}, [3]int{video, 1, 0})
	orig := bytes.Clone(seg1)
	var c TSContinuity
	c.Rewrite(seg1)
	if !bytes.Equal(seg1, orig) {
		t.Fatalf("continuous input changed: %v → %v", ccs(orig), ccs(seg1))
	}
	// Second segment from a restarted muxer: counters start over.
	seg2 := tsPackets([3]int{video, 1, 0}, [3]int{audio, 1, 0}, [3]int{video, 2, 0}, [3]int{null, 1, 9})
	c.Rewrite(seg2)
	if got, want := ccs(seg2), []int{1, 4, 1, 9}; !slices.Equal(got, want) {
		t.Fatalf("counters %v, want %v", got, want)
	}
	// Only the counter nibble changes.
	if seg2[3]&0xf0 != 0x10 || seg2[2*tsPacketSize+3]&0xf0 != 0x20 {
		t.Fatal("adaptation field control bits changed")
	}
	// A trailing partial packet and non-sync data are left alone.
	junk := append(tsPackets([3]int{video, 1, 5}), 0x47, 0x01, 0x00, 0x15)
	junk[0] = 0x00
	before := bytes.Clone(junk)
	c.Rewrite(junk)
	if !bytes.Equal(junk, before) {
		t.Fatal("non-packet data changed")
	}
}
