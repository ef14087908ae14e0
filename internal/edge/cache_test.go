package edge

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCacheBytesBound(t *testing.T) {
	const limit = 10_000
	objs := make(map[string][]byte)
	var paths []string
	for i := range 20 {
		p := fmt.Sprintf("/live/demo/index/mabc12-%d.ts", i)
		objs[p] = pattern(3000, byte(i))
		paths = append(paths, p)
	}
	f := newFixture(t, Config{CacheBytes: limit}, objs)
	for _, p := range paths {
		resp, body := f.get(t, p)
		if resp.StatusCode != http.StatusOK || len(body) != 3000 {
			t.Fatalf("%s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
		if got := f.edge.CacheBytes(); got > limit {
			t.Fatalf("after %s the cache holds %d bytes, limit %d", p, got, limit)
		}
	}
	// At most 3 objects fit, so asking for all 20 again refetches at least 17.
	for _, p := range paths {
		f.get(t, p)
		if got := f.edge.CacheBytes(); got > limit {
			t.Fatalf("cache holds %d bytes, limit %d", got, limit)
		}
	}
	total := 0
	for _, p := range paths {
		total += f.origin.count(p)
	}
	if total < 20+17 {
		t.Fatalf("origin saw %d requests for 40 requests of 20 objects; the cache kept more than its bound", total)
	}
	if f.edge.CacheBytes() == 0 {
		t.Fatal("cache is empty: nothing was kept")
	}
}

func TestObjectLargerThanCacheIsServedNotCached(t *testing.T) {
	const p = "/live/demo/index/mabc12-1.ts"
	f := newFixture(t, Config{CacheBytes: 1000}, map[string][]byte{p: pattern(5000, 1)})
	for range 2 {
		if resp, body := f.get(t, p); resp.StatusCode != http.StatusOK || len(body) != 5000 {
			t.Fatalf("got %d, %d bytes", resp.StatusCode, len(body))
		}
	}
	if got := f.origin.count(p); got != 2 {
		t.Fatalf("origin saw %d requests, want 2 (object larger than the cache)", got)
	}
	if got := f.edge.CacheBytes(); got > 1000 {
		t.Fatalf("cache holds %d bytes, limit 1000", got)
	}
}

func TestLifetimes(t *testing.T) {
	const (
		playlist = "/live/demo/index.m3u8"
		key      = "/live/demo/key"
	)
	immutables := []string{
		"/live/demo/index/mabc12-41.ts",
		"/live/demo/index/mabc12-41.m4s",
		"/live/demo/index/mabc12-init.mp4",
		"/live/demo/index/mabc12-41.rec",
	}
	objs := map[string][]byte{playlist: []byte(testPlaylist), key: []byte("pubkey")}
	for i, p := range immutables {
		objs[p] = pattern(1000, byte(i))
	}
	f := newFixture(t, Config{}, objs) // TARGETDURATION 2 × 0.25 → 500 ms
	for _, p := range append([]string{playlist, key}, immutables...) {
		if resp, _ := f.get(t, p); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", p, resp.StatusCode)
		}
	}
	steps := []struct {
		advance       time.Duration
		playlistCount int
		keyCount      int
	}{
		{0, 1, 1},
		{300 * time.Millisecond, 1, 1},
		{300 * time.Millisecond, 2, 1}, // 600 ms: playlist expired
		{300 * time.Millisecond, 2, 1}, // 300 ms after the refetch: still fresh
		{time.Minute, 3, 2},            // key lives 60 s
		{time.Hour, 4, 3},
	}
	for i, s := range steps {
		f.clock.advance(s.advance)
		for _, p := range append([]string{playlist, key}, immutables...) {
			f.get(t, p)
		}
		if got := f.origin.count(playlist); got != s.playlistCount {
			t.Fatalf("step %d: origin saw %d playlist requests, want %d", i, got, s.playlistCount)
		}
		if got := f.origin.count(key); got != s.keyCount {
			t.Fatalf("step %d: origin saw %d key requests, want %d", i, got, s.keyCount)
		}
		for _, p := range immutables {
			if got := f.origin.count(p); got != 1 {
				t.Fatalf("step %d: immutable %s fetched %d times, want 1", i, p, got)
			}
		}
	}
}

func TestPlaylistTTL(t *testing.T) {
	tests := []struct {
		name string
		body string
		frac float64
		want time.Duration
	}{
		{"quarter of 2s", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n", 0.25, 500 * time.Millisecond},
		{"clamped low", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n", 0.05, 100 * time.Millisecond},
		{"clamped high", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n", 0.5, 2 * time.Second},
		{"crlf", "#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n", 0.25, time.Second},
		{"multivariant", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n", 0.25, 500 * time.Millisecond},
		{"garbage", "#EXT-X-TARGETDURATION:x\n", 0.25, 500 * time.Millisecond},
		{"negative", "#EXT-X-TARGETDURATION:-4\n", 0.25, 500 * time.Millisecond},
		{"huge", "#EXT-X-TARGETDURATION:1e308\n", 0.25, 2 * time.Second},
		{"vod", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-ENDLIST\n", 0.25, vodPlaylistTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := playlistTTL([]byte(tc.body), tc.frac); got != tc.want {
				t.Fatalf("playlistTTL = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlaylistCacheControl(t *testing.T) {
	f := newFixture(t, Config{}, map[string][]byte{
		"/live/demo/index.m3u8":         []byte(testPlaylist),
		"/live/demo/index/mabc12-41.ts": pattern(100, 1),
		"/live/demo/key":                []byte("k"),
	})
	for p, want := range map[string]string{
		"/live/demo/index.m3u8":         "public, max-age=0",
		"/live/demo/index/mabc12-41.ts": immutableCC,
		"/live/demo/key":                "public, max-age=60",
	} {
		resp, _ := f.get(t, p)
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", p, got, want)
		}
	}
	resp, _ := f.get(t, "/live/demo/index.m3u8")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("playlist Content-Type %q", ct)
	}
}

func TestPlaylistRefreshAhead(t *testing.T) {
	const p = "/live/demo/index.m3u8"
	f := newFixture(t, Config{}, map[string][]byte{p: []byte(testPlaylist)}) // TTL 500 ms
	f.get(t, p)
	newer := strings.Replace(testPlaylist, "SEQUENCE:41", "SEQUENCE:42", 1)
	f.origin.set(p, []byte(newer))

	f.clock.advance(450 * time.Millisecond) // last fifth: answered from the cache, refreshed behind
	resp, body := f.get(t, p)
	if resp.Header.Get("X-Cache") != "HIT" || string(body) != testPlaylist {
		t.Fatalf("X-Cache %q, body changed: the request waited for the refresh", resp.Header.Get("X-Cache"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if o, ok := f.edge.cache.GetIfPresent(p); ok && string(o.body) == newer {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no background refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.clock.advance(200 * time.Millisecond) // 650 ms: the first copy expired, the refreshed one is fresh
	resp, body = f.get(t, p)
	if resp.Header.Get("X-Cache") != "HIT" || string(body) != newer {
		t.Fatalf("X-Cache %q, body %q", resp.Header.Get("X-Cache"), body)
	}
	if got := f.origin.count(p); got != 2 {
		t.Fatalf("origin saw %d playlist requests, want 2", got)
	}
}

// TestCacheBoundIsMemory checks that the bytes the cache counts are the bytes it holds:
// a body read into a buffer larger than itself (bytes.Buffer doubles when ReadFrom
// needs room to see EOF) would keep that spare capacity alive for the entry's life,
// so a cache bounded at CacheBytes would hold up to twice as much. It caches demo-sized
// segments, with and without Content-Length, past the bound, and sums the capacity of
// every cached body.
func TestCacheBoundIsMemory(t *testing.T) {
	const limit, size = 1_000_000, 100_000
	objs := make(map[string][]byte)
	for i := range 30 {
		objs[fmt.Sprintf("/live/demo/index/mabc12-%d.ts", i)] = pattern(size+i*997, byte(i))
	}
	f := newFixture(t, Config{CacheBytes: limit}, objs)
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/live/demo/index/mabc12-%d.ts", &n); err == nil && n%2 == 0 {
			w.Header().Set("Content-Length", fmt.Sprint(len(objs[r.URL.Path]))) // odd ones go chunked
		}
		return false
	})
	for i := range 30 {
		p := fmt.Sprintf("/live/demo/index/mabc12-%d.ts", i)
		if resp, body := f.get(t, p); resp.StatusCode != http.StatusOK || len(body) != len(objs[p]) {
			t.Fatalf("%s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
		var held, counted int64
		for k, o := range f.edge.cache.All() {
			held += int64(cap(o.body))
			counted += int64(weigh(k, o))
		}
		if held > limit {
			t.Fatalf("after %d segments the cache holds %d bytes of bodies (it counts %d), bound %d", i+1, held, counted, limit)
		}
	}
}
