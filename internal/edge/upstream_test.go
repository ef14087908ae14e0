package edge

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUpstreamErrors(t *testing.T) {
	const big = "/live/demo/index/mabc12-1.ts"
	tests := []struct {
		name   string
		path   string
		hook   func(w http.ResponseWriter, r *http.Request) bool
		code   int
		reason string
		cached bool // a second request is answered without the origin
	}{
		{"500", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "boom", 500)
			return true
		}, 502, "500", false},
		{"403 from origin", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "no", 403)
			return true
		}, 502, "403", false},
		{"redirect", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere.ts", http.StatusFound)
			return true
		}, 502, "302", false},
		{"hang", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done()
			return true
		}, 504, "timed out", false},
		{"body stalls", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return true
		}, 504, "timed out", false},
		{"short body", segPath, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte("partial"))
			return true
		}, 502, "unreachable", false},
		{"too large, declared", big, nil, 502, "too large", false},
		{"too large, chunked", big, func(w http.ResponseWriter, r *http.Request) bool {
			for range 5 {
				_, _ = w.Write(bytes.Repeat([]byte{'x'}, 1000))
				w.(http.Flusher).Flush()
			}
			return true
		}, 502, "too large", false},
		{"404 segment", "/live/demo/index/mabc12-99.ts", nil, 404, "not found", false},
		{"404 playlist", "/live/demo/nope.m3u8", nil, 404, "not found", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{UpstreamTimeout: 300 * time.Millisecond, MaxObjectBytes: 4096},
				map[string][]byte{segPath: pattern(100, 1), big: pattern(5000, 2)})
			f.origin.setHook(tc.hook)
			start := time.Now()
			resp, body := f.get(t, tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("answered after %v with a 300ms upstream timeout", el)
			}
			if !strings.Contains(string(body), tc.reason) {
				t.Fatalf("reason %q does not mention %q", body, tc.reason)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q, want no-store", cc)
			}
			f.get(t, tc.path)
			want := 2
			if tc.cached {
				want = 1
			}
			if got := f.origin.count(tc.path); got != want {
				t.Fatalf("origin saw %d requests for 2, want %d", got, want)
			}
			if got := f.edge.BytesServed("demo"); got != 0 {
				t.Fatalf("BytesServed = %d for error responses", got)
			}
			// After the fault clears, the object is served.
			if tc.code != 404 {
				f.origin.setHook(nil)
				f.edge.cfg.MaxObjectBytes = 1 << 20
				if resp, _ := f.get(t, tc.path); resp.StatusCode != http.StatusOK {
					t.Fatalf("after recovery: status %d", resp.StatusCode)
				}
			}
		})
	}
}

func TestNegativePlaylistExpires(t *testing.T) {
	const p = "/live/demo/index.m3u8"
	f := newFixture(t, Config{}, map[string][]byte{})
	if resp, _ := f.get(t, p); resp.StatusCode != 404 {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	f.origin.set(p, []byte(testPlaylist))
	if resp, _ := f.get(t, p); resp.StatusCode != 404 {
		t.Fatalf("status %d within the negative TTL, want 404", resp.StatusCode)
	}
	f.clock.advance(notFoundTTL + time.Millisecond)
	if resp, _ := f.get(t, p); resp.StatusCode != 200 {
		t.Fatalf("status %d after the negative TTL, want 200", resp.StatusCode)
	}
}

func TestOriginDown(t *testing.T) {
	f := newFixture(t, Config{UpstreamTimeout: time.Second}, nil)
	f.origin.srv.Close()
	resp, body := f.get(t, segPath)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "unreachable") {
		t.Fatalf("status %d %q, want 502 unreachable", resp.StatusCode, body)
	}
}

func TestFetchConcurrencyBound(t *testing.T) {
	const slots = 2
	objs := map[string][]byte{}
	for i := range 6 {
		objs["/live/demo/index/mabc12-"+strconv.Itoa(i)+".ts"] = pattern(10, byte(i))
	}
	f := newFixture(t, Config{MaxConcurrentFetches: slots}, objs)
	var mu = make(chan struct{}, 1)
	inflight, peak := 0, 0
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu <- struct{}{}
		inflight++
		peak = max(peak, inflight)
		<-mu
		time.Sleep(50 * time.Millisecond)
		mu <- struct{}{}
		inflight--
		<-mu
		return false
	})
	done := make(chan int, len(objs))
	for p := range objs {
		go func() {
			resp, err := f.srv.Client().Get(f.srv.URL + p)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range objs {
		if code := <-done; code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if peak > slots {
		t.Fatalf("%d origin requests in flight, bound %d", peak, slots)
	}
}

func TestNew(t *testing.T) {
	for _, o := range []string{"", "127.0.0.1:80", "ftp://x", "http://", "http://x/?a=b"} {
		if _, err := New(Config{Origin: o}); err == nil {
			t.Errorf("New(%q) accepted a bad origin", o)
		}
	}
	e, err := New(Config{Origin: "http://127.0.0.1:1/base/"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.origin != "http://127.0.0.1:1/base" || e.cfg.CacheBytes != DefaultCacheBytes ||
		e.cfg.UpstreamTimeout != DefaultUpstreamTimeout || e.cfg.AllowOrigin != "*" {
		t.Fatalf("defaults not applied: %+v", e.cfg)
	}
}
