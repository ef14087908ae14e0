package edge

import (
	"net/http"
	"net/http/httptest"
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

// TestTakedownHandler: POST /takedown/{stream} with the admin token purges and
// refuses the stream at once, DELETE restores it; without the right token, with a
// bad name or method, nothing changes and the answer says why.
func TestTakedownHandler(t *testing.T) {
	seg := "/live/s/index/e-1.ts"
	f := newFixture(t, Config{}, map[string][]byte{seg: pattern(1000, 1)})
	h := httptest.NewServer(f.edge.TakedownHandler("tok"))
	t.Cleanup(h.Close)
	off := httptest.NewServer(f.edge.TakedownHandler(""))
	t.Cleanup(off.Close)
	call := func(base, method, path, auth string) int {
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if r, _ := f.get(t, seg); r.StatusCode != 200 {
		t.Fatalf("before: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		base, method, path, auth string
		want                     int
	}{
		{off.URL, "POST", "/takedown/s", "Bearer tok", http.StatusForbidden},
		{h.URL, "POST", "/takedown/s", "", http.StatusUnauthorized},
		{h.URL, "POST", "/takedown/s", "Bearer nope", http.StatusUnauthorized},
		{h.URL, "POST", "/takedown/..%2Fx", "Bearer tok", http.StatusBadRequest},
		{h.URL, "GET", "/takedown/s", "Bearer tok", http.StatusMethodNotAllowed},
	} {
		if got := call(tc.base, tc.method, tc.path, tc.auth); got != tc.want {
			t.Fatalf("%s %s (%q): %d, want %d", tc.method, tc.path, tc.auth, got, tc.want)
		}
	}
	if r, _ := f.get(t, seg); r.StatusCode != 200 {
		t.Fatalf("refused calls changed the stream: %d", r.StatusCode)
	}
	if got := call(h.URL, "POST", "/takedown/s", "Bearer tok"); got != http.StatusNoContent {
		t.Fatalf("takedown: %d", got)
	}
	if r, _ := f.get(t, seg); r.StatusCode != http.StatusGone {
		t.Fatalf("after takedown: %d", r.StatusCode)
	}
	if got := call(h.URL, "DELETE", "/takedown/s", "Bearer tok"); got != http.StatusNoContent {
		t.Fatalf("restore: %d", got)
	}
	if r, _ := f.get(t, seg); r.StatusCode != 200 {
		t.Fatalf("restored: %d", r.StatusCode)
	}
}
