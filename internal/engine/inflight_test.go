package engine

import (
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// TestInflightOrder: entries come out by time, then seq, piece, source,
// once each, whatever was removed or issued again.
func TestInflightOrder(t *testing.T) {
	t0 := time.Unix(0, 0)
	var f inflight
	k := func(seq uint64, piece int, from string) pendKey { return pendKey{seq, piece, from} }
	f.add(k(2, 0, "b"), t0)
	f.add(k(1, 5, "a"), t0)
	f.add(k(1, 5, ""), t0)
	f.add(k(1, 1, "a"), t0.Add(time.Millisecond))
	f.del(k(2, 0, "b"))
	f.add(k(2, 0, "b"), t0)                         // again, same instant
	f.add(k(1, 5, "a"), t0.Add(2*time.Millisecond)) // re-issued later
	f.add(k(1, 5, ""), t0)                          // unchanged
	got := f.appendTo(nil)
	want := []scheduler.Pending{
		{Seq: 1, Piece: 5, From: "", Since: t0},
		{Seq: 2, Piece: 0, From: "b", Since: t0},
		{Seq: 1, Piece: 1, From: "a", Since: t0.Add(time.Millisecond)},
		{Seq: 1, Piece: 5, From: "a", Since: t0.Add(2 * time.Millisecond)},
	}
	if len(got) != len(want) || f.len() != len(want) {
		t.Fatalf("got %v (len %d), want %v", got, f.len(), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	f.delFunc(func(k pendKey) bool { return k.from == "a" })
	if got := f.appendTo(nil); len(got) != 2 || len(f.order) != f.len() || got[0].From != "" || got[1].From != "b" {
		t.Errorf("after removing a's: %v (set %d)", got, f.len())
	}
}
