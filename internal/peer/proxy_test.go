package peer

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestProxyFFmpeg: real ffmpeg plays the local proxy's playlist (segments
// served by the engine) and decodes it without an error.
func TestProxyFFmpeg(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	w := newWorld(t, tracker.Config{})
	cfg := w.peerConfig(0)
	cfg.Tracker = "" // CDN only: the proxy is what is tested
	tp := w.startPeer(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-i", tp.proxy.URL+"/live/demo/index.m3u8",
		"-t", "5", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if st := tp.p.Stats(); st.BytesCDNMedia == 0 {
		t.Error("the engine fetched no segment")
	}
}

// TestProxyErrors: the proxy answers bad requests with a 4xx and a reason.
func TestProxyErrors(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	cfg := w.peerConfig(0)
	cfg.Tracker = ""
	tp := w.startPeer(cfg)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/live/other/index.m3u8", http.StatusNotFound},
		{"/live/demo/index/..%2f..%2fetc.ts", http.StatusBadRequest},
		{"/nothing", http.StatusNotFound},
		{"/stats", http.StatusOK},
		{"/live/demo/index.m3u8", http.StatusOK},
		{"/live/demo/key", http.StatusOK},
	} {
		resp, err := http.Get(tp.proxy.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
}
