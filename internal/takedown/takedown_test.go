package takedown

import (
	"errors"
	"strconv"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set
	if s.Down("a") {
		t.Fatal("zero Set has a stream")
	}
	if err := s.Set("a", true); err != nil || !s.Down("a") || s.Down("b") {
		t.Fatal("a not down")
	}
	if s.Set("a", false); s.Down("a") {
		t.Fatal("a still down")
	}
	for i := range MaxStreams {
		if err := s.Set(strconv.Itoa(i), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set("one-more", true); !errors.Is(err, ErrFull) {
		t.Fatalf("over the bound: %v", err)
	}
	if err := s.Set("0", true); err != nil {
		t.Fatalf("again: %v", err)
	}
}
