package origin

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// treeSum is a digest of every name, size, mode and modification time below dir.
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d %v %d\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// ffmpegOffline writes a title as ffmpeg does offline, into dir.
func ffmpegOffline(t *testing.T, dir string, seconds int, opts ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(seconds)}
	args = append(args, x264...)
	args = append(args, opts...)
	args = append(args, "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", filepath.Join(dir, "index.m3u8"))
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// TestVodDir serves a directory of finished titles without writing to it: whole titles
// as VOD with records that verify, Range requests, the same URLs and records after a
// restart; titles with missing, truncated or unfinished playlists are refused with a
// log line; a takedown survives a restart.
func TestVodDir(t *testing.T) {
	vod := t.TempDir()
	ffmpegOffline(t, filepath.Join(vod, "film"), 8)
	ffmpegOffline(t, filepath.Join(vod, "frag"), 4, "-hls_segment_type", "fmp4")
	ffmpegOffline(t, filepath.Join(vod, "missing"), 4)
	ffmpegOffline(t, filepath.Join(vod, "cut"), 4)
	ffmpegOffline(t, filepath.Join(vod, "open"), 4)
	if err := os.Remove(filepath.Join(vod, "missing", "index1.ts")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(vod, "cut", "index0.ts"), 1000); err != nil {
		t.Fatal(err)
	}
	pl, _ := os.ReadFile(filepath.Join(vod, "open", "index.m3u8"))
	if err := os.WriteFile(filepath.Join(vod, "open", "index.m3u8"), []byte(strings.ReplaceAll(string(pl), "#EXT-X-ENDLIST\n", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeSum(t, vod)

	store := t.TempDir()
	var logs logBuffer
	_, base, stop := startStore(t, Config{StoreDir: store, VodDir: vod, Logger: logs.logger(), PublishToken: "tok"})
	film := snapshot(t, base, "film", "index")
	if n := strings.Count(film["playlist"], "#EXTINF"); n != 4 {
		t.Fatalf("%d segments, want 4:\n%s", n, film["playlist"])
	}
	fp, _ := checkSegments(t, base, "frag", "index")
	if fp.Map == nil || len(fp.Segments) != 2 {
		t.Fatalf("fMP4 title: map %v, %d segments", fp.Map, len(fp.Segments))
	}
	// The bytes served are the files'.
	seg0, _ := os.ReadFile(filepath.Join(vod, "film", "index0.ts"))
	p := mediaPlaylist(t, base+"/live/film/index.m3u8")
	if r := get(t, base+"/live/film/"+p.Segments[0].URI); string(r.body) != string(seg0) {
		t.Fatal("segment 0 is not index0.ts")
	}
	r := do(t, http.MethodGet, base+"/live/film/"+p.Segments[0].URI, nil, "Range", "bytes=188-375")
	if r.code != http.StatusPartialContent || string(r.body) != string(seg0[188:376]) {
		t.Fatalf("Range: %d, %d bytes", r.code, len(r.body))
	}
	for _, bad := range []string{"missing", "cut", "open"} {
		if r := get(t, base+"/live/"+bad+"/index.m3u8"); r.code != http.StatusNotFound {
			t.Errorf("bad title %s served: %d", bad, r.code)
		}
	}
	for _, want := range []string{"title=missing", "index1.ts missing", "title=cut", "truncated", "title=open", "no #EXT-X-ENDLIST"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if n := ffmpegDecode(t, base+"/live/film/index.m3u8"); n < 190 || n > 210 {
		t.Errorf("decoded %d frames, want about 200", n)
	}
	stop()
	if treeSum(t, vod) != before {
		t.Fatal("the vod dir changed")
	}

	// Restart: the same URLs and records (kept in the store, not recomputed).
	recs := treeSum(t, filepath.Join(store, storeRecords))
	_, base2, stop2 := startStore(t, Config{StoreDir: store, VodDir: vod, PublishToken: "tok"})
	sameSnapshot(t, film, snapshot(t, base2, "film", "index"))
	if treeSum(t, filepath.Join(store, storeRecords)) != recs {
		t.Error("records were written again after a restart")
	}
	if r := do(t, http.MethodDelete, base2+"/titles/film", nil, "Authorization", "Bearer tok"); r.code != http.StatusNoContent {
		t.Fatalf("takedown: %d %s", r.code, r.body)
	}
	stop2()
	_, base3, _ := startStore(t, Config{StoreDir: store, VodDir: vod})
	if r := get(t, base3+"/live/film/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("taken-down title back after a restart: %d", r.code)
	}
	checkSegments(t, base3, "frag", "index")
	if treeSum(t, vod) != before {
		t.Fatal("the vod dir changed")
	}
}

// TestVodDirEdited: a segment edited in place after its record was made is refused,
// never served against the old record.
func TestVodDirEdited(t *testing.T) {
	vod := t.TempDir()
	ffmpegOffline(t, filepath.Join(vod, "film"), 4)
	_, base, _ := startStore(t, Config{StoreDir: t.TempDir(), VodDir: vod})
	p := mediaPlaylist(t, base+"/live/film/index.m3u8")
	u := base + "/live/film/" + p.Segments[0].URI
	if r := get(t, u); r.code != http.StatusOK {
		t.Fatal(r.code)
	}
	f := filepath.Join(vod, "film", "index0.ts")
	b, _ := os.ReadFile(f)
	b[200] ^= 0xff
	mod := time.Now().Add(-time.Hour)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(f, mod, mod)
	if r := get(t, u); r.code != http.StatusInternalServerError {
		t.Fatalf("edited segment: %d", r.code)
	}
}
