// Package e2e runs the real shoal binary and real ffmpeg on loopback.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var shoalBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-e2e-")
	if err != nil {
		panic(err)
	}
	shoalBin = filepath.Join(dir, "shoal")
	build := exec.Command("go", "build", "-o", shoalBin, "../../cmd/shoal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build shoal:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var urlRE = regexp.MustCompile(`on (https?://[0-9.:\[\]]+)`)

// startShoal runs `shoal ARGS... --listen 127.0.0.1:0` and returns its base URL once it
// has printed it. The process is stopped with SIGTERM when the test ends, and must exit
// cleanly.
func startShoal(t *testing.T, args ...string) string {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0")
	if args[0] == "up" || args[0] == "origin" {
		args = append(args, "--key-file", filepath.Join(t.TempDir(), "origin.key"))
	}
	cmd := exec.Command(shoalBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "shoal.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("shoal %s exited: %v", args[0], err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("shoal %s did not stop within 10s of SIGINT", args[0])
		}
		if t.Failed() {
			logf.Seek(0, 0)
			b, _ := io.ReadAll(io.LimitReader(logf, 20000))
			t.Logf("shoal %s log:\n%s", args[0], b)
		}
		logf.Close()
	})
	select {
	case u := <-urls:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("shoal printed no URL within 30s")
		return ""
	}
}

// ffmpeg runs ffmpeg with a deadline and returns its stderr (and an error if it failed).
func ffmpeg(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

// startPush starts ffmpeg pushing a test source to url by HTTP PUT, for dur of media at
// real time. extra go before the output (e.g. an ABR ladder). It returns a stop function.
func startPush(t *testing.T, url string, dur time.Duration, extra ...string) (wait func() error) {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(int(dur.Seconds()))}
	if len(extra) == 0 {
		extra = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
			"-c:a", "aac", "-b:a", "64k"}
	}
	args = append(args, extra...)
	args = append(args, "-f", "hls", "-hls_time", "2", "-method", "PUT", url)
	cmd := exec.Command("ffmpeg", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return func() error {
		err := <-done
		done <- err
		if err != nil {
			return fmt.Errorf("ffmpeg push: %v: %s", err, stderr.String())
		}
		return nil
	}
}

// waitPlaylist polls url until it answers 200 with at least n segments.
func waitPlaylist(t *testing.T, url string, n int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		body, code := get(t, url)
		if code == 200 && strings.Count(body, "#EXTINF") >= n {
			return body
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: fewer than %d segments after 30s", url, n)
	return ""
}

func get(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b), resp.StatusCode
}

// decode plays a live playlist with ffmpeg -xerror for media seconds of video and returns
// the presentation timestamps (in frames) of every decoded video frame.
func decode(t *testing.T, url string, media time.Duration) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), media+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror",
		"-i", url, "-map", "0:v:0", "-t", strconv.Itoa(int(media.Seconds())), "-f", "framemd5", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v: %s", url, err, stderr.String())
	}
	var pts []int64
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		p, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err != nil {
			t.Fatalf("framemd5 line %q: %v", line, err)
		}
		pts = append(pts, p)
	}
	return pts
}

// checkContinuous asserts that the decoded frames cover media seconds at fps frames a
// second, each one frame after the last: a lost or repeated segment shows as a jump.
func checkContinuous(t *testing.T, pts []int64, media time.Duration, fps int) {
	t.Helper()
	want := int(media.Seconds()) * fps
	if len(pts) < want-1 {
		t.Fatalf("decoded %d frames, want %d for %v", len(pts), want, media)
	}
	step := pts[1] - pts[0]
	for i := 1; i < len(pts); i++ {
		if step <= 0 || pts[i] != pts[i-1]+step {
			t.Fatalf("frame %d: pts %d after %d: a gap or repeat in the decoded video", i, pts[i], pts[i-1])
		}
	}
}
