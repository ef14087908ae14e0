package peer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// vodTitle is the name of the title makeTitle writes.
const vodTitle = "film"

// makeTitle encodes a title of secs seconds with real ffmpeg, as an
// on-demand HLS directory (2 s segments): DIR/film/index.m3u8.
func makeTitle(t *testing.T, secs int) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, vodTitle)
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := strconv.Itoa(secs)
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration="+d,
		"-f", "lavfi", "-i", "sine=frequency=440:duration="+d,
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-b:v", "400k", "-c:a", "aac", "-b:a", "64k",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(out, "seg%03d.ts"), filepath.Join(out, "index.m3u8"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return dir
}

// newVODWorld: an origin serving makeTitle's directory (--vod-dir), an edge
// and a tracker.
func newVODWorld(t *testing.T, dir string) *world {
	t.Helper()
	return newWorldOrigin(t, origin.Config{VodDir: dir, StoreDir: t.TempDir()}, tracker.Config{})
}

// vodPeerConfig is peerConfig for the title.
func (w *world) vodPeerConfig(i int) Config {
	c := w.peerConfig(i)
	c.Stream = vodTitle
	return c
}

// TestVODProxyFFmpeg: real ffprobe reads the title's whole duration through
// a peer's proxy, and ffmpeg seeking into the middle (-ss) through the proxy
// decodes exactly the frames it decodes straight from the origin; the
// engine follows the seek.
func TestVODProxyFFmpeg(t *testing.T) {
	dir := makeTitle(t, 30)
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	w := newVODWorld(t, dir)
	cfg := w.vodPeerConfig(0)
	cfg.Tracker = "" // CDN only: the proxy is what is tested
	cfg.VOD.BufferGoal = 6 * time.Second
	tp := w.startPeer(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	proxyURL := tp.proxy.URL + "/live/" + vodTitle + "/index.m3u8"

	pl := string(get(t, proxyURL))
	if !strings.Contains(pl, "#EXT-X-ENDLIST") || !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD") {
		t.Fatalf("the proxy's playlist is not a title's:\n%s", pl)
	}
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", proxyURL).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || d < 29 || d > 31 {
		t.Fatalf("ffprobe duration through the proxy: %q, want ~30 s", out)
	}
	// The frames after a seek to 20 s, as ffmpeg decodes them.
	frames := func(u string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-ss", "20", "-i", u,
			"-map", "0:v", "-frames:v", "25", "-f", "framemd5", "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("ffmpeg -ss 20 -i %s: %v\n%s", u, err, stderr.Bytes())
		}
		return b
	}
	viaProxy := frames(proxyURL)
	direct := frames(w.osrv.URL + "/live/" + vodTitle + "/index.m3u8")
	if !bytes.Equal(viaProxy, direct) || bytes.Count(direct, []byte("\n0,")) < 25 {
		t.Fatalf("frames after -ss 20 through the proxy differ from the origin's:\n%s\nvs\n%s", viaProxy, direct)
	}
	st := tp.p.Stats()
	if st.Player.Seeks == 0 {
		t.Errorf("the engine did not follow the player's seek: %+v", st.Player)
	}
	t.Logf("proxy: cdn media %d bytes, player %+v", st.BytesCDNMedia, st.Player)
	mpvSeeks(ctx, t, proxyURL)
}

// mpvSeeks: real mpv opens the title through the proxy at 20 s, restarts playback
// there with audio and video, plays 25 frames and ends cleanly. SHOAL_REQUIRE_MPV
// (scripts/test.sh, which installs mpv) makes a missing mpv a failure.
func mpvSeeks(ctx context.Context, t *testing.T, u string) {
	t.Helper()
	mpv, err := exec.LookPath("mpv")
	if err != nil {
		if os.Getenv("SHOAL_REQUIRE_MPV") != "" {
			t.Fatal("mpv not installed (scripts/deps.sh installs it)")
		}
		t.Skip("mpv not installed (scripts/deps.sh installs it)")
	}
	logf := filepath.Join(t.TempDir(), "mpv.log")
	out, err := exec.CommandContext(ctx, mpv, "--no-config", "--no-terminal", "--vo=null", "--ao=null",
		"--start=20", "--frames=25", "--log-file="+logf, u).CombinedOutput()
	b, _ := os.ReadFile(logf)
	if err != nil {
		t.Fatalf("mpv --start=20 %s: %v\n%s\n%s", u, err, out, b)
	}
	log := string(b)
	_, after, ok := strings.Cut(log, "playback restart complete @ ")
	pos, _, _ := strings.Cut(after, ",")
	p, perr := strconv.ParseFloat(pos, 64)
	if !ok || perr != nil || p < 19.5 || p > 22 || !strings.Contains(after, "video=playing") {
		t.Fatalf("mpv did not restart playback at 20 s with video (position %q):\n%s", pos, log)
	}
	if !strings.Contains(log, "finished playback, success") {
		t.Fatalf("mpv did not finish cleanly:\n%s", log)
	}
}
