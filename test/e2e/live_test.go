package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// A single-rendition push by ffmpeg plays through the edge for 20 s without a gap.
func TestPushSingleRendition(t *testing.T) {
	t.Parallel()
	base := startShoal(t, "up")
	startPush(t, base+"/ingest/cam/index.m3u8", 32*time.Second)
	waitPlaylist(t, base+"/live/cam/index.m3u8", 3)
	pts := decode(t, base+"/live/cam/index.m3u8", 20*time.Second)
	checkContinuous(t, pts, 20*time.Second, 25)
}

// A two-rendition ladder: the master lists both renditions, and each plays.
func TestPushABRLadder(t *testing.T) {
	t.Parallel()
	base := startShoal(t, "up")
	startPush(t, base+"/ingest/abr/index_%v.m3u8", 40*time.Second,
		"-map", "0:v", "-map", "1:a", "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-s:v:0", "320x180", "-b:v:0", "400k", "-s:v:1", "160x90", "-b:v:1", "150k",
		"-c:a", "aac", "-b:a", "64k",
		"-var_stream_map", "v:0,a:0 v:1,a:1", "-master_pl_name", "master.m3u8")
	var master string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		body, code := get(t, base+"/live/abr/master.m3u8")
		if code == 200 && strings.Count(body, "#EXT-X-STREAM-INF") == 2 {
			master = body
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if master == "" {
		t.Fatal("no master playlist with two renditions within 30s")
	}
	for _, r := range []string{"index_0", "index_1"} {
		if !strings.Contains(master, r+".m3u8") {
			t.Fatalf("master does not list %s:\n%s", r, master)
		}
		waitPlaylist(t, base+"/live/abr/"+r+".m3u8", 3)
	}
	done := make(chan []int64, 2)
	for _, r := range []string{"index_0", "index_1"} {
		go func() { done <- decode(t, base+"/live/abr/"+r+".m3u8", 12*time.Second) }()
	}
	for range 2 {
		checkContinuous(t, <-done, 12*time.Second, 25)
	}
}

// The demo stream plays across a loop wrap (the loop is 16 s long).
func TestDemoAcrossWrap(t *testing.T) {
	t.Parallel()
	base := startShoal(t, "up")
	pl := waitPlaylist(t, base+"/live/demo/index.m3u8", 3)
	if !strings.Contains(pl, "#EXT-X-TARGETDURATION") {
		t.Fatalf("demo playlist:\n%s", pl)
	}
	pts := decode(t, base+"/live/demo/index.m3u8", 24*time.Second)
	if len(pts) < 24*25-1 {
		t.Fatalf("decoded %d frames over 24 s", len(pts))
	}
	// Timestamps restart at the wrap; within each loop they must be continuous.
	jumps := 0
	for i := 1; i < len(pts); i++ {
		if d := pts[i] - pts[i-1]; d != pts[1]-pts[0] {
			jumps++
		}
	}
	if jumps > 2 {
		t.Fatalf("%d timestamp jumps in 24 s of the demo, want at most one per loop wrap", jumps)
	}
}

var segRE = regexp.MustCompile(`(?m)^[^#\s]+\.ts$`)

// An encoder restart starts a new epoch: new URLs with a discontinuity, and the old URLs
// keep their bytes.
func TestEncoderRestart(t *testing.T) {
	t.Parallel()
	base := startShoal(t, "up")
	if err := startPush(t, base+"/ingest/rs/index.m3u8", 6*time.Second)(); err != nil {
		t.Fatal(err)
	}
	first := waitPlaylist(t, base+"/live/rs/index.m3u8", 2)
	oldURIs := segRE.FindAllString(first, -1)
	oldBodies := map[string]string{}
	for _, u := range oldURIs {
		oldBodies[u], _ = get(t, base+"/live/rs/"+u)
	}
	if err := startPush(t, base+"/ingest/rs/index.m3u8", 6*time.Second)(); err != nil {
		t.Fatal(err)
	}
	second, _ := get(t, base+"/live/rs/index.m3u8")
	if !strings.Contains(second, "#EXT-X-DISCONTINUITY") {
		t.Fatalf("no discontinuity after the restart:\n%s", second)
	}
	newURIs := segRE.FindAllString(second, -1)
	seen := map[string]bool{}
	for _, u := range newURIs {
		if seen[u] {
			t.Fatalf("URI %s listed twice:\n%s", u, second)
		}
		seen[u] = true
	}
	if len(newURIs) <= len(oldURIs) {
		t.Fatalf("restart published no new segments:\n%s", second)
	}
	for u, body := range oldBodies {
		if again, code := get(t, base+"/live/rs/"+u); code == 200 && again != body {
			t.Fatalf("%s changed bytes after the encoder restart", u)
		}
	}
}
