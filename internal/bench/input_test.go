package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// encodeInput makes a short input with ffmpeg, as scripts/bench-input.sh does
// a long one: H.264 VBR, so its segments differ in size.
func encodeInput(t *testing.T, seconds int) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("this test needs ffmpeg (apt-get install ffmpeg): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", strconv.Itoa(seconds), "-threads", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(dir, "s%d.ts"), filepath.Join(dir, "index.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return dir
}

// TestInputPublished: an ffmpeg-encoded input is pushed through the origin's
// ingest segment by segment, with its own bytes and durations, and a
// virtual run serves viewers exactly its bytes.
func TestInputPublished(t *testing.T) {
	dir := encodeInput(t, 6)
	in, err := loadInput(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.segs) != 6 {
		t.Fatalf("%d segments, want 6", len(in.segs))
	}
	cfg, err := Config{Input: dir}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.input = in
	for p, r := range published(t, cfg) {
		if !strings.HasPrefix(p, "/live/"+inputStream+"/"+rendition+"/") {
			t.Errorf("reference path %q", p)
		}
		found := false
		for _, s := range in.segs {
			found = found || (int64(len(s.data)) == r.size && s.dur == r.dur)
		}
		if !found {
			t.Errorf("%s: %d bytes, %v: no input segment like it", p, r.size, r.dur)
		}
	}

	rep, err := Run(context.Background(), Config{Input: dir, Clock: ClockVirtual, Peers: 6, Duration: 12 * time.Second, Only: ModeHybrid, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := rep.Runs[ModeHybrid]
	if rep.Stream != inputStream || h.SegmentsChecked == 0 || h.SegmentsMismatched != 0 || h.PeersNotStarted != 0 {
		t.Errorf("stream %q, %d segments checked, %d mismatched, %d viewers not started", rep.Stream, h.SegmentsChecked, h.SegmentsMismatched, h.PeersNotStarted)
	}
	if br := in.bitrate(); rep.BitrateBPS < 0.8*br || rep.BitrateBPS > 1.2*br {
		t.Errorf("published %.0f bit/s, the input has %.0f", rep.BitrateBPS, br)
	}
}

func TestInputErrors(t *testing.T) {
	write := func(dir, name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pl := func(seg string) string {
		return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n" + seg + "\n#EXT-X-ENDLIST\n"
	}
	ts := string(bytes.Repeat([]byte{0x47}, 188))
	cases := map[string]func(dir string) string{
		"missing":     func(dir string) string { return filepath.Join(dir, "nope") },
		"file":        func(dir string) string { write(dir, "f", "x"); return filepath.Join(dir, "f") },
		"no playlist": func(dir string) string { return dir },
		"two playlists": func(dir string) string {
			write(dir, "a.m3u8", pl("a.ts"))
			write(dir, "b.m3u8", pl("a.ts"))
			return dir
		},
		"not a playlist": func(dir string) string { write(dir, "index.m3u8", "hello"); return dir },
		"outside":        func(dir string) string { write(dir, "index.m3u8", pl("../a.ts")); return dir },
		"url":            func(dir string) string { write(dir, "index.m3u8", pl("http://x/a.ts")); return dir },
		"no segment":     func(dir string) string { write(dir, "index.m3u8", pl("a.ts")); return dir },
		"empty segment":  func(dir string) string { write(dir, "index.m3u8", pl("a.ts")); write(dir, "a.ts", ""); return dir },
		"fmp4": func(dir string) string {
			write(dir, "index.m3u8", strings.Replace(pl("a.m4s"), "#EXT-X-MEDIA-SEQUENCE:0\n", "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n", 1))
			write(dir, "a.m4s", ts)
			return dir
		},
		"byte range": func(dir string) string {
			write(dir, "index.m3u8", strings.Replace(pl("a.ts"), "#EXTINF:2.000,\n", "#EXTINF:2.000,\n#EXT-X-BYTERANGE:188@0\n", 1))
			write(dir, "a.ts", ts)
			return dir
		},
	}
	for name, mk := range cases {
		if _, err := loadInput(mk(t.TempDir())); !errors.Is(err, ErrInput) {
			t.Errorf("%s: err %v, want ErrInput", name, err)
		}
	}
	dir := t.TempDir()
	write(dir, "live.m3u8", pl("a.ts"))
	write(dir, "a.ts", ts)
	if in, err := loadInput(dir); err != nil || len(in.segs) != 1 || in.bitrate() != 188*8/2 {
		t.Errorf("one playlist not named index: %v, %+v", err, in)
	}
	if _, err := Run(context.Background(), Config{Input: filepath.Join(dir, "nope"), Clock: ClockVirtual}); !errors.Is(err, ErrInput) {
		t.Errorf("Run with a missing input: %v", err)
	}
}
