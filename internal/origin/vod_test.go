package origin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects an origin's logs for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// fixedKey is one signing key for every origin of a test, as a key file gives.
func fixedKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// startStore runs an origin on a store directory; stop ends it (and its Run) before
// the test goes on, as a restart does.
func startStore(t *testing.T, cfg Config) (o *Origin, url string, stop func()) {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = fixedKey()
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
			_ = o.Close()
		})
	}
	t.Cleanup(stop)
	return o, srv.URL, stop
}

// vodPlaylist is ffmpeg's -hls_playlist_type vod playlist of index0..n-1.ts.
func vodPlaylist(n int, ended bool) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	for i := range n {
		fmt.Fprintf(&b, "#EXTINF:2.000000,\nindex%d.ts\n", i)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

// pushVOD pushes n demo samples as a VOD title, as ffmpeg does: segments first, the
// one playlist last.
func pushVOD(t *testing.T, base, name string, n int) {
	t.Helper()
	for i := range n {
		mustPut(t, base+"/ingest/"+name+fmt.Sprintf("/index%d.ts", i), sample(t, i%8))
	}
	mustPut(t, base+"/ingest/"+name+"/index.m3u8", vodPlaylist(n, true))
	waitServed(t, base+"/live/"+name+"/index.m3u8")
}

// snapshot returns every object of a title: playlist, segments and records, by URL path.
func snapshot(t *testing.T, base, name, rendition string) map[string]string {
	t.Helper()
	out := map[string]string{}
	pl, segs := checkSegments(t, base, name, rendition)
	out["playlist"] = string(get(t, base+"/live/"+name+"/"+rendition+".m3u8").body)
	for _, s := range segs {
		p := strings.TrimPrefix(s.url, base)
		out[p] = string(s.data)
		if strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".m4s") {
			rec := strings.TrimSuffix(strings.TrimSuffix(p, ".ts"), ".m4s") + ".rec"
			out[rec] = string(get(t, base+rec).body)
		}
	}
	if pl.PlaylistType == nil || *pl.PlaylistType != "VOD" || !pl.Endlist {
		t.Fatalf("title playlist is not VOD + ENDLIST:\n%s", out["playlist"])
	}
	return out
}

// waitServed waits for a pushed title: ffmpeg may exit before the origin has the last
// of its requests.
func waitServed(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 5*time.Second, url, func() bool { return get(t, url).code == http.StatusOK })
}

func sameSnapshot(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d objects, then %d", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%s changed bytes", k)
		}
	}
}

// TestFFmpegVODPush pushes a title with ffmpeg -hls_playlist_type vod into a store:
// nothing is served until the playlist ends, then the whole title is, as VOD, with
// verifying records, decodable end to end, and byte-identical after a restart.
func TestFFmpegVODPush(t *testing.T) {
	store := t.TempDir()
	_, base, stop := startStore(t, Config{StoreDir: store, Window: 2})
	ffmpegPush(t, 10, base+"/ingest/film/index.m3u8", append(x264, "-hls_playlist_type", "vod")...)
	waitServed(t, base+"/live/film/index.m3u8")
	before := snapshot(t, base, "film", "index")
	if n := strings.Count(before["playlist"], "#EXTINF"); n != 5 {
		t.Fatalf("%d segments listed, want the whole 10 s title (5):\n%s", n, before["playlist"])
	}
	if r := get(t, base+"/live/film/index.m3u8"); r.header.Get("Cache-Control") != cacheVODPlaylist {
		t.Errorf("VOD playlist Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if n := ffmpegDecode(t, base+"/live/film/index.m3u8"); n < 240 || n > 260 {
		t.Errorf("decoded %d frames, want about 250", n)
	}
	stop()

	_, base2, _ := startStore(t, Config{StoreDir: store})
	sameSnapshot(t, before, snapshot(t, base2, "film", "index"))
}

// TestFFmpegVODPushABR pushes an fMP4 ladder as VOD: the master and both renditions are
// published together once every playlist has ended.
func TestFFmpegVODPushABR(t *testing.T) {
	var logs logBuffer
	_, base, _ := startStore(t, Config{StoreDir: t.TempDir(), Logger: logs.logger()})
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	opts := []string{
		"-filter_complex", "[0:v]split=2[a][b];[b]scale=160:120[b2]",
		"-map", "[a]", "-map", "[b2]", "-map", "1:a", "-map", "1:a",
	}
	opts = append(opts, x264...)
	opts = append(opts, "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
		"-var_stream_map", "v:0,a:0 v:1,a:1", "-master_pl_name", "master.m3u8")
	ffmpegPush(t, 6, base+"/ingest/ladder/index_%v.m3u8", opts...)
	waitServed(t, base+"/live/ladder/master.m3u8")
	r := get(t, base+"/live/ladder/master.m3u8")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), "index_0.m3u8") || !strings.Contains(string(r.body), "index_1.m3u8") {
		t.Fatalf("master: %d\n%s", r.code, r.body)
	}
	for _, rn := range []string{"index_0", "index_1"} {
		pl, _ := checkSegments(t, base, "ladder", rn)
		if len(pl.Segments) != 3 || pl.Map == nil {
			t.Errorf("%s: %d segments, map %v", rn, len(pl.Segments), pl.Map)
		}
	}
	if n := ffmpegDecode(t, base+"/live/ladder/master.m3u8"); n < 140 {
		t.Errorf("decoded %d frames through the master", n)
	}
}

// TestVODPushBadInput: a VOD push that never ends is never served and is discarded
// with a log line after the quiet timeout; one whose playlist lists a segment that
// never came is refused; names collide with neither live streams nor titles.
func TestVODPushBadInput(t *testing.T) {
	var logs logBuffer
	store := t.TempDir()
	_, base, _ := startStore(t, Config{StoreDir: store, QuietTimeout: 200 * time.Millisecond, Logger: logs.logger()})

	// Never ends.
	for i := range 3 {
		mustPut(t, base+fmt.Sprintf("/ingest/open/index%d.ts", i), sample(t, i))
	}
	mustPut(t, base+"/ingest/open/index.m3u8", vodPlaylist(3, false))
	if r := get(t, base+"/live/open/index.m3u8"); r.code != http.StatusNotFound || !strings.Contains(string(r.body), "still being pushed") {
		t.Fatalf("unended VOD push served: %d %s", r.code, r.body)
	}
	waitFor(t, 5*time.Second, "the discard log line", func() bool {
		return strings.Contains(logs.String(), "VOD push never ended its playlist")
	})
	waitFor(t, 5*time.Second, "an empty staging directory", func() bool {
		ents, _ := os.ReadDir(filepath.Join(store, storeStaging))
		return len(ents) == 0
	})
	if r := get(t, base+"/live/open/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("discarded push: %d", r.code)
	}

	// A listed segment never came.
	mustPut(t, base+"/ingest/holes/index0.ts", sample(t, 0))
	mustPut(t, base+"/ingest/holes/index2.ts", sample(t, 2))
	r := put(t, base+"/ingest/holes/index.m3u8", vodPlaylist(3, true))
	if r.code != http.StatusInsufficientStorage && r.code/100 != 4 || !strings.Contains(string(r.body), "never arrived") {
		t.Fatalf("title with a missing segment: %d %s", r.code, r.body)
	}
	if r := get(t, base+"/live/holes/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("title with a missing segment served: %d", r.code)
	}

	// A live stream, then a VOD push of the same name; a title, then a live push.
	mustPut(t, base+"/ingest/cam/index0.ts", sample(t, 0))
	mustPut(t, base+"/ingest/cam/index.m3u8", tsPlaylist(0, 1, false))
	if r := put(t, base+"/ingest/cam/index.m3u8", vodPlaylist(1, true)); r.code != http.StatusConflict {
		t.Fatalf("VOD push onto a live stream: %d %s", r.code, r.body)
	}
	pushVOD(t, base, "film", 2)
	if r := put(t, base+"/ingest/film/index0.ts", sample(t, 0)); r.code != http.StatusConflict || !strings.Contains(string(r.body), "published title") {
		t.Fatalf("push onto a title: %d %s", r.code, r.body)
	}
}

// TestKeepEnded: an ended live stream becomes its replay under the same URLs, with
// every segment since the start (not only the window), and expires.
func TestKeepEnded(t *testing.T) {
	store := t.TempDir()
	_, base, stop := startStore(t, Config{StoreDir: store, Window: 2, KeepEnded: time.Hour})
	var live []string
	for i := range 5 {
		mustPut(t, base+fmt.Sprintf("/ingest/show/index%d.ts", i), sample(t, i))
		mustPut(t, base+"/ingest/show/index.m3u8", tsPlaylist(max(0, i-1), min(i+1, 2), false))
		pl := mediaPlaylist(t, base+"/live/show/index.m3u8")
		live = append(live, pl.Segments[len(pl.Segments)-1].URI)
	}
	liveRec := get(t, base+"/live/show/"+strings.TrimSuffix(live[4], ".ts")+".rec").body
	mustPut(t, base+"/ingest/show/index.m3u8", tsPlaylist(3, 2, true))
	waitFor(t, 5*time.Second, "the replay", func() bool {
		pl := mediaPlaylist(t, base+"/live/show/index.m3u8")
		return pl.PlaylistType != nil
	})
	pl, _ := checkSegments(t, base, "show", "index")
	if len(pl.Segments) != 5 || pl.MediaSequence != 0 {
		t.Fatalf("replay: %d segments from %d, want 5 from 0", len(pl.Segments), pl.MediaSequence)
	}
	for i, s := range pl.Segments {
		if s.URI != live[i] {
			t.Fatalf("replay segment %d is %s, live it was %s", i, s.URI, live[i])
		}
	}
	if got := get(t, base+"/live/show/"+strings.TrimSuffix(live[4], ".ts")+".rec").body; !bytes.Equal(got, liveRec) {
		t.Fatal("replay record differs from the live one")
	}
	before := snapshot(t, base, "show", "index")
	stop()

	// After a restart it is still there; with an expiry already past, it goes.
	_, base2, stop2 := startStore(t, Config{StoreDir: store})
	sameSnapshot(t, before, snapshot(t, base2, "show", "index"))
	stop2()
	_, base3, _ := startStore(t, Config{StoreDir: store, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if r := get(t, base3+"/live/show/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("expired replay served: %d", r.code)
	}
}

// TestStoreBound: titles over StoreBytes evict the oldest first, never one being read;
// a push that cannot fit is refused.
func TestStoreBound(t *testing.T) {
	o, base, _ := startStore(t, Config{StoreDir: t.TempDir()})
	pushVOD(t, base, "a", 3)
	o.store.limit = o.store.usedBytes() * 5 / 2 // room for two such titles
	time.Sleep(5 * time.Millisecond)            // distinct creation times
	pushVOD(t, base, "b", 3)
	held := o.acquireTitle("a") // a request reading "a"
	pushVOD(t, base, "c", 3)
	held.readers.Add(-1)
	for name, want := range map[string]int{"a": http.StatusOK, "b": http.StatusNotFound, "c": http.StatusOK} {
		if r := get(t, base+"/live/"+name+"/index.m3u8"); r.code != want {
			t.Errorf("title %s: %d, want %d (%s)", name, r.code, want, r.body)
		}
	}
	if r := get(t, base+"/live/b/index.m3u8"); !strings.Contains(string(r.body), "evicted") {
		t.Errorf("evicted title 404: %s", r.body)
	}
	// Larger than the whole store: refused, nothing served.
	for i := range 9 {
		put(t, base+fmt.Sprintf("/ingest/big/index%d.ts", i), sample(t, i%8))
	}
	if r := put(t, base+"/ingest/big/index.m3u8", vodPlaylist(9, true)); r.code != http.StatusInsufficientStorage {
		t.Errorf("title larger than the store: %d %s", r.code, r.body)
	}
	if r := get(t, base+"/live/big/index.m3u8"); r.code != http.StatusNotFound {
		t.Errorf("refused title served: %d", r.code)
	}
}

// TestTakedown: DELETE /titles/NAME needs the publish token, removes the title and its
// files, and the 404 says why.
func TestTakedown(t *testing.T) {
	store := t.TempDir()
	_, base, _ := startStore(t, Config{StoreDir: store, PublishToken: "s3cret"})
	auth := []string{"Authorization", "Bearer s3cret"}
	for i := range 2 {
		if r := put(t, base+fmt.Sprintf("/ingest/film/index%d.ts", i), sample(t, i), auth...); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
	}
	if r := put(t, base+"/ingest/film/index.m3u8", vodPlaylist(2, true), auth...); r.code != http.StatusNoContent {
		t.Fatal(r.code)
	}
	waitServed(t, base+"/live/film/index.m3u8")
	r := do(t, http.MethodGet, base+"/titles", nil, auth...)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"name":"film"`) || !strings.Contains(string(r.body), `"kind":"vod"`) {
		t.Fatalf("GET /titles: %d %s", r.code, r.body)
	}
	if r := do(t, http.MethodDelete, base+"/titles/film", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("takedown without token: %d", r.code)
	}
	if r := do(t, http.MethodDelete, base+"/titles/film", nil, auth...); r.code != http.StatusNoContent {
		t.Fatalf("takedown: %d %s", r.code, r.body)
	}
	if r := get(t, base+"/live/film/index.m3u8"); r.code != http.StatusNotFound || !strings.Contains(string(r.body), "taken down") {
		t.Fatalf("after takedown: %d %s", r.code, r.body)
	}
	if ents, _ := os.ReadDir(filepath.Join(store, storeTitles)); len(ents) != 0 {
		t.Fatalf("files of a taken-down title remain: %v", ents)
	}
	if r := do(t, http.MethodDelete, base+"/titles/film", nil, auth...); r.code != http.StatusNotFound {
		t.Fatalf("second takedown: %d", r.code)
	}
}

// TestBadStoredTitle: a truncated segment or a broken index on disk is refused at
// start with a log line; the other titles are served.
func TestBadStoredTitle(t *testing.T) {
	store := t.TempDir()
	_, base, stop := startStore(t, Config{StoreDir: store})
	for _, n := range []string{"good", "cut", "broken"} {
		pushVOD(t, base, n, 2)
	}
	stop()
	cut := filepath.Join(store, storeTitles, "cut", "index")
	ents, _ := os.ReadDir(cut)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".ts") {
			if err := os.Truncate(filepath.Join(cut, e.Name()), 1000); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if err := os.WriteFile(filepath.Join(store, storeTitles, "broken", indexFile), []byte(`{"version":1,"name":"broken"`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	_, base2, _ := startStore(t, Config{StoreDir: store, Logger: logs.logger()})
	checkSegments(t, base2, "good", "index")
	for _, n := range []string{"cut", "broken"} {
		if r := get(t, base2+"/live/"+n+"/index.m3u8"); r.code != http.StatusNotFound {
			t.Errorf("bad title %s served: %d", n, r.code)
		}
		if !strings.Contains(logs.String(), "title refused, not served") || !strings.Contains(logs.String(), "title="+n) {
			t.Errorf("no log line for %s:\n%s", n, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "truncated") {
		t.Errorf("the log does not say truncated:\n%s", logs.String())
	}
}

// TestStoredFileChanged: a stored segment edited after publication is not served.
func TestStoredFileChanged(t *testing.T) {
	store := t.TempDir()
	_, base, _ := startStore(t, Config{StoreDir: store})
	pushVOD(t, base, "film", 2)
	pl := mediaPlaylist(t, base+"/live/film/index.m3u8")
	p := filepath.Join(store, storeTitles, "film", filepath.FromSlash(pl.Segments[0].URI))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/live/film/"+pl.Segments[0].URI); r.code != http.StatusInternalServerError {
		t.Fatalf("changed segment: %d", r.code)
	}
}

func TestTitleIndexRoundTrip(t *testing.T) {
	ix := titleIndex{Version: indexVersion, Name: "film", Kind: titleVOD, Created: time.Unix(1700000000, 0).UTC(),
		Renditions: []indexRendition{{Name: "index", Target: 2, Segments: []indexSegment{
			{Epoch: "abc", Seq: 0, Ext: ".ts", DurUS: 2e6, Size: 188, SHA256: strings.Repeat("ab", 32), RecLen: 200},
			{Epoch: "abc", Seq: 1, Ext: ".ts", DurUS: 2e6, Size: 376, SHA256: strings.Repeat("cd", 32), RecLen: 200},
		}}}}
	got, err := decodeTitleIndex(ix.encode(), DefaultMaxSegmentBytes, DefaultMaxRenditions)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "film" || len(got.Renditions[0].Segments) != 2 {
		t.Fatalf("%+v", got)
	}
	for name, mutate := range map[string]func(*titleIndex){
		"gap":         func(x *titleIndex) { x.Renditions[0].Segments[1].Seq = 5 },
		"path":        func(x *titleIndex) { x.Renditions[0].Name = "../etc" },
		"epoch":       func(x *titleIndex) { x.Renditions[0].Segments[0].Epoch = "A/B" },
		"ext":         func(x *titleIndex) { x.Renditions[0].Segments[0].Ext = ".sh" },
		"fmp4-noinit": func(x *titleIndex) { x.Renditions[0].Segments[0].Ext = ".m4s" },
		"size":        func(x *titleIndex) { x.Renditions[0].Segments[0].Size = 0 },
		"sum":         func(x *titleIndex) { x.Renditions[0].Segments[0].SHA256 = "zz" },
		"kind":        func(x *titleIndex) { x.Kind = "live" },
		"version":     func(x *titleIndex) { x.Version = 2 },
	} {
		c := ix
		c.Renditions = []indexRendition{ix.Renditions[0]}
		c.Renditions[0].Segments = append([]indexSegment(nil), ix.Renditions[0].Segments...)
		mutate(&c)
		if _, err := decodeTitleIndex(c.encode(), DefaultMaxSegmentBytes, DefaultMaxRenditions); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := decodeTitleIndex(ix.encode()[:40], DefaultMaxSegmentBytes, DefaultMaxRenditions); err == nil {
		t.Error("truncated index accepted")
	}
}
