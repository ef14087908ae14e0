package origin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
)

// start runs an origin with cfg behind a loopback HTTP server until the test ends.
func start(t *testing.T, cfg Config) (*Origin, *httptest.Server) {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
	})
	return o, srv
}

type response struct {
	code   int
	body   []byte
	header http.Header
}

func do(t *testing.T, method, url string, body []byte, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, b, resp.Header}
}

func get(t *testing.T, url string) response { t.Helper(); return do(t, http.MethodGet, url, nil) }

func put(t *testing.T, url string, body []byte, hdr ...string) response {
	t.Helper()
	return do(t, http.MethodPut, url, body, hdr...)
}

// mustPut PUTs and fails the test unless the origin accepts.
func mustPut(t *testing.T, url string, body []byte) {
	t.Helper()
	if r := put(t, url, body); r.code != http.StatusNoContent {
		t.Fatalf("PUT %s: %d %s", url, r.code, r.body)
	}
}

// mediaPlaylist fetches and parses a published media playlist.
func mediaPlaylist(t *testing.T, url string) *playlist.Media {
	t.Helper()
	r := get(t, url)
	if r.code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	p, err := media.ParseMedia(r.body)
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, r.body)
	}
	return p
}

// publicKey fetches and parses a stream's public key.
func publicKey(t *testing.T, base, stream string) ed25519.PublicKey {
	t.Helper()
	r := get(t, base+"/live/"+stream+"/key")
	if r.code != http.StatusOK {
		t.Fatalf("GET key: %d %s", r.code, r.body)
	}
	pub, err := manifest.ParsePublicKey(r.body)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// published is a segment fetched from the origin.
type published struct {
	url  string
	data []byte
}

// checkSegments fetches every segment (and init section) listed in a rendition's
// playlist, verifies its record against the stream key, and returns them by URL.
func checkSegments(t *testing.T, base, stream, rendition string) (*playlist.Media, []published) {
	t.Helper()
	pl := mediaPlaylist(t, base+"/live/"+stream+"/"+rendition+".m3u8")
	pub := publicKey(t, base, stream)
	var out []published
	seen := map[string]bool{}
	for i, s := range pl.Segments {
		if seen[s.URI] {
			t.Fatalf("segment URI %q listed twice", s.URI)
		}
		seen[s.URI] = true
		if !strings.HasPrefix(s.URI, rendition+"/") {
			t.Fatalf("segment URI %q not below %s/", s.URI, rendition)
		}
		epoch, seq, ext, _, err := media.ParseSegmentName(strings.TrimPrefix(s.URI, rendition+"/"))
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(pl.MediaSequence + i); seq != want {
			t.Errorf("segment %d: seq %d, want %d (media sequence %d)", i, seq, want, pl.MediaSequence)
		}
		u := base + "/live/" + stream + "/" + s.URI
		r := get(t, u)
		if r.code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, r.code, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", u, cc)
		}
		if r.header.Get("ETag") == "" || r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
			t.Errorf("GET %s: ETag %q Content-Length %q", u, r.header.Get("ETag"), r.header.Get("Content-Length"))
		}
		kind := media.KindTS
		if ext == ".m4s" {
			kind = media.KindFMP4
		}
		if err := media.Sniff(kind, r.body); err != nil {
			t.Errorf("GET %s: %v", u, err)
		}
		rr := get(t, strings.TrimSuffix(u, ext)+".rec")
		if rr.code != http.StatusOK {
			t.Fatalf("GET record of %s: %d %s", u, rr.code, rr.body)
		}
		rec, err := manifest.Parse(rr.body, pub)
		if err != nil {
			t.Fatalf("record of %s: %v", u, err)
		}
		if err := rec.Verify(r.body); err != nil {
			t.Errorf("record of %s: %v", u, err)
		}
		if rec.Stream != stream || rec.Rendition != rendition || rec.Epoch != epoch || rec.Seq != seq || rec.URI != s.URI {
			t.Errorf("record of %s: %+v", u, rec)
		}
		if d := rec.Duration - s.Duration; d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("record of %s: duration %v, playlist says %v", u, rec.Duration, s.Duration)
		}
		out = append(out, published{u, r.body})
	}
	if pl.Map != nil {
		u := base + "/live/" + stream + "/" + pl.Map.URI
		r := get(t, u)
		if r.code != http.StatusOK || media.Sniff(media.KindInit, r.body) != nil {
			t.Fatalf("GET init %s: %d", u, r.code)
		}
		out = append(out, published{u, r.body})
	}
	return pl, out
}

// ffmpegPush pushes a synthetic source of the given length to an ingest URL with
// ffmpeg (as fast as it can encode, or in real time if opts starts with "-re"), with
// extra output options before the URL.
func ffmpegPush(t *testing.T, seconds int, url string, opts ...string) {
	t.Helper()
	if err := ffmpegPushErr(seconds, url, opts...); err != nil {
		t.Fatal(err)
	}
}

func ffmpegPushErr(seconds int, url string, opts ...string) error {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return fmt.Errorf("these tests need ffmpeg (apt-get install ffmpeg): %w", err)
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if len(opts) > 0 && opts[0] == "-re" {
		args, opts = append(args, "-re"), opts[1:]
	}
	args = append(args,
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(seconds))
	args = append(args, opts...)
	args = append(args, "-f", "hls", "-hls_time", "2", "-method", "PUT", url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// x264 is a fast H.264 + AAC encoding with a keyframe every 2 s.
var x264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50",
	"-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k"}

// ffmpegDecode decodes a published playlist end to end and returns the number of
// decoded video frames; any decoding error fails the test.
func ffmpegDecode(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-xerror",
		"-i", url, "-map", "0:v:0", "-f", "framecrc", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", url, err, tail(out, 1500))
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sample returns the demo sample i: a real MPEG-TS segment for hand-made ingest.
func sample(t *testing.T, i int) []byte {
	t.Helper()
	b, err := demoFS.ReadFile(fmt.Sprintf("demo/seg%d.ts", i))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tsPlaylist is an ffmpeg-like media playlist listing index{first..first+n-1}.ts.
func tsPlaylist(first, n int, ended bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "#EXTINF:2.000000,\nindex%d.ts\n", i)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
