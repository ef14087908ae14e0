package edge

import (
	"net/http"
	"testing"
)

func TestTakedownPurgesAndRefuses(t *testing.T) {
	seg := "/live/s/index/e-1.ts"
	f := newFixture(t, Config{}, map[string][]byte{seg: pattern(1000, 1), "/live/t/index/e-1.ts": pattern(10, 2)})
	if r, _ := f.get(t, seg); r.StatusCode != 200 {
		t.Fatalf("before: %d", r.StatusCode)
	}
	if err := f.edge.Takedown("s", true); err != nil {
		t.Fatal(err)
	}
	if r, body := f.get(t, seg); r.StatusCode != http.StatusGone {
		t.Fatalf("after takedown: %d %s", r.StatusCode, body)
	}
	for k := range f.edge.cache.Keys() {
		if k == seg {
			t.Fatal("cache still holds the segment")
		}
	}
	if r, _ := f.get(t, "/live/t/index/e-1.ts"); r.StatusCode != 200 {
		t.Fatalf("other stream: %d", r.StatusCode)
	}
	f.edge.Takedown("s", false)
	if r, _ := f.get(t, seg); r.StatusCode != 200 {
		t.Fatalf("restored: %d", r.StatusCode)
	}
	if n := f.origin.count(seg); n != 2 {
		t.Fatalf("origin fetches %d: the purge should force a refetch", n)
	}
}
