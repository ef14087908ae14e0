package edge

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	stalePath     = "/live/demo/index.m3u8"
	endedPlaylist = testPlaylist + "#EXT-X-ENDLIST\n"
)

// TestStaleIfError: a playlist whose origin fails is served as it was for
// DefaultStaleIfErrorTargets target durations past its lifetime (6 s here), then the
// failure shows; failures that mean "gone" are never hidden.
func TestStaleIfError(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true }
	status := func(code int) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool { http.Error(w, "x", code); return true }
	}
	tests := []struct {
		name     string
		playlist string
		fail     func(w http.ResponseWriter, r *http.Request) bool // nil: the origin's listener is closed
		stale    bool                                              // served stale
		after    int                                               // the answer once the window is over
	}{
		{"refused", testPlaylist, nil, true, 502},
		{"503", testPlaylist, status(503), true, 502},
		{"500", testPlaylist, status(500), true, 502},
		{"timeout", testPlaylist, hang, true, 504},
		{"404 live", testPlaylist, status(404), true, 404},
		{"404 ended", endedPlaylist, status(404), false, 404},
		{"410 takedown", testPlaylist, status(410), false, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{UpstreamTimeout: 200 * time.Millisecond}, map[string][]byte{stalePath: []byte(tc.playlist)})
			if resp, _ := f.get(t, stalePath); resp.StatusCode != 200 {
				t.Fatalf("warm: %d", resp.StatusCode)
			}
			if tc.fail == nil {
				f.origin.srv.Close()
			} else {
				f.origin.setHook(tc.fail)
			}
			// Within the window: 0.5 s lifetime + 6 s.
			for _, at := range []time.Duration{time.Second, 3 * time.Second, 6 * time.Second} {
				f.clock.ns.Store(newClock().ns.Load() + int64(at))
				resp, body := f.get(t, stalePath)
				if !tc.stale {
					if resp.StatusCode != 404 {
						t.Fatalf("at %v: %d, want 404 (not hidden)", at, resp.StatusCode)
					}
					return
				}
				if resp.StatusCode != 200 || string(body) != tc.playlist || resp.Header.Get("X-Cache") != "STALE" {
					t.Fatalf("at %v: %d X-Cache %q, want the stale playlist", at, resp.StatusCode, resp.Header.Get("X-Cache"))
				}
			}
			// Past it.
			f.clock.ns.Store(newClock().ns.Load() + int64(7*time.Second))
			if resp, body := f.get(t, stalePath); resp.StatusCode != tc.after {
				t.Fatalf("past the window: %d %s, want %d", resp.StatusCode, body, tc.after)
			}
			if n := metricValue(t, f, "shoal_edge_stale_served_total", "playlist"); n < 1 {
				t.Errorf("shoal_edge_stale_served_total{kind=playlist} = %v", n)
			}
		})
	}
}

// TestStaleIfErrorRecovers: once the origin answers again the edge serves its new
// playlist at the next refresh, never the stale one.
func TestStaleIfErrorRecovers(t *testing.T) {
	f := newFixture(t, Config{}, map[string][]byte{stalePath: []byte(testPlaylist)})
	f.get(t, stalePath)
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool { http.Error(w, "down", 503); return true })
	f.clock.advance(time.Second)
	if resp, _ := f.get(t, stalePath); resp.Header.Get("X-Cache") != "STALE" {
		t.Fatalf("origin down: X-Cache %q", resp.Header.Get("X-Cache"))
	}
	next := strings.Replace(testPlaylist, "MEDIA-SEQUENCE:41", "MEDIA-SEQUENCE:99", 1)
	f.origin.set(stalePath, []byte(next))
	f.origin.setHook(nil)
	f.clock.advance(time.Second) // past the stand-in's lifetime
	resp, body := f.get(t, stalePath)
	if resp.StatusCode != 200 || string(body) != next || resp.Header.Get("X-Cache") == "STALE" {
		t.Fatalf("origin back: %d X-Cache %q\n%s", resp.StatusCode, resp.Header.Get("X-Cache"), body)
	}
}

// TestStaleIfErrorOff: a negative StaleIfError shows origin failures at once; an
// explicit one replaces the default window.
func TestStaleIfErrorOff(t *testing.T) {
	for _, tc := range []struct {
		stale time.Duration
		at    time.Duration
		want  int
	}{{-1, time.Second, 502}, {20 * time.Second, 15 * time.Second, 200}, {20 * time.Second, 21 * time.Second, 502}} {
		f := newFixture(t, Config{StaleIfError: tc.stale}, map[string][]byte{stalePath: []byte(testPlaylist)})
		f.get(t, stalePath)
		f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool { http.Error(w, "down", 503); return true })
		f.clock.advance(tc.at)
		if resp, _ := f.get(t, stalePath); resp.StatusCode != tc.want {
			t.Errorf("StaleIfError %v at %v: %d, want %d", tc.stale, tc.at, resp.StatusCode, tc.want)
		}
	}
}

// metricValue is the value of the named metric with one label value kind.
func metricValue(t *testing.T, f *fixture, name, kind string) float64 {
	t.Helper()
	fams, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range fams {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels(m) == "{kind="+kind+"}" {
				return value(m)
			}
		}
	}
	return 0
}

// TestPrefetch: with Prefetch 2 a live playlist's two newest segments and their
// records are fetched before anyone asks, and served while the origin is down;
// an ended playlist prefetches nothing.
func TestPrefetch(t *testing.T) {
	seg41, seg42 := "/live/demo/index/mabc12-41.m4s", "/live/demo/index/mabc12-42.m4s"
	objs := map[string][]byte{stalePath: []byte(testPlaylist), seg41: pattern(100, 1), seg42: pattern(100, 2),
		"/live/demo/index/mabc12-41.rec": pattern(50, 3), "/live/demo/index/mabc12-42.rec": pattern(50, 4),
		"/live/ended/index.m3u8": []byte(endedPlaylist)}
	f := newFixture(t, Config{Prefetch: 2}, objs)
	f.get(t, stalePath)
	waitCount := func(p string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); f.origin.count(p) == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not prefetched", p)
			}
		}
	}
	for _, p := range []string{seg41, seg42, "/live/demo/index/mabc12-41.rec", "/live/demo/index/mabc12-42.rec"} {
		waitCount(p)
	}
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool { http.Error(w, "down", 503); return true })
	time.Sleep(50 * time.Millisecond) // the prefetches above have stored their objects
	if resp, body := f.get(t, seg42); resp.StatusCode != 200 || string(body) != string(pattern(100, 2)) {
		t.Fatalf("prefetched segment with the origin down: %d", resp.StatusCode)
	}
	f.origin.setHook(nil)
	f.get(t, "/live/ended/index.m3u8")
	time.Sleep(50 * time.Millisecond)
	if n := f.origin.count("/live/ended/index/mabc12-42.m4s"); n != 0 {
		t.Errorf("an ended playlist's segment was prefetched %d times", n)
	}
}
