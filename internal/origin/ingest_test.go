package origin

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/token"
)

// urlBytes remembers the bytes served under every segment URL in a test, to prove
// that no URL ever changes bytes.
type urlBytes map[string][]byte

func (m urlBytes) check(t *testing.T, segs []published) {
	t.Helper()
	for _, s := range segs {
		if old, ok := m[s.url]; ok && !bytes.Equal(old, s.data) {
			t.Fatalf("%s changed bytes", s.url)
		}
		m[s.url] = s.data
	}
}

// recheck refetches every URL seen that is still served and compares bytes.
func (m urlBytes) recheck(t *testing.T) {
	t.Helper()
	for u, b := range m {
		r := get(t, u)
		if r.code == http.StatusOK && !bytes.Equal(r.body, b) {
			t.Fatalf("%s changed bytes", u)
		}
	}
}

func TestPlaylistBeforeSegment(t *testing.T) {
	_, srv := start(t, Config{})
	in := srv.URL + "/ingest/race/"
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	if r := get(t, srv.URL+"/live/race/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("playlist before its segment arrived: %d\n%s", r.code, r.body)
	}
	mustPut(t, in+"index0.ts", sample(t, 0))
	pl, segs := checkSegments(t, srv.URL, "race", "index")
	if len(pl.Segments) != 1 || !bytes.Equal(segs[0].data[188:], sample(t, 0)[188:]) {
		t.Fatalf("published %d segments", len(pl.Segments))
	}
}

func TestRetriesAreIdempotent(t *testing.T) {
	_, srv := start(t, Config{})
	in := srv.URL + "/ingest/retry/"
	for range 2 {
		mustPut(t, in+"index0.ts", sample(t, 0))
		mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	}
	mustPut(t, in+"index0.ts", sample(t, 0))
	pl, _ := checkSegments(t, srv.URL, "retry", "index")
	if len(pl.Segments) != 1 || pl.Segments[0].Discontinuity {
		t.Fatalf("retries published %d segments", len(pl.Segments))
	}
}

// TestRestartDetection covers the ways an encoder restart shows, without ENDLIST.
func TestRestartDetection(t *testing.T) {
	tests := []struct {
		name string
		// after index0..index3 were published from playlists with media sequence 0
		restart func(t *testing.T, in string)
	}{
		{"media sequence backwards", func(t *testing.T, in string) {
			// ffmpeg -hls_list_size 2 had moved to media sequence 2; restarted it is 0.
			mustPut(t, in+"index0.ts", sample(t, 5))
			mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
		}},
		{"same name other bytes", func(t *testing.T, in string) {
			mustPut(t, in+"index3.ts", sample(t, 6))
			mustPut(t, in+"index.m3u8", tsPlaylist(3, 1, false))
		}},
		{"playlist retried after bytes changed", func(t *testing.T, in string) {
			mustPut(t, in+"index3.ts", sample(t, 6))
			mustPut(t, in+"index.m3u8", tsPlaylist(2, 2, false)) // identical to the last one
			mustPut(t, in+"index.m3u8", tsPlaylist(3, 1, false))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := start(t, Config{Window: 3})
			in := srv.URL + "/ingest/r/"
			seen := urlBytes{}
			for i := range 4 {
				mustPut(t, in+fmt.Sprintf("index%d.ts", i), sample(t, i))
				mustPut(t, in+"index.m3u8", tsPlaylist(max(0, i-1), min(i+1, 2), false))
			}
			_, before := checkSegments(t, srv.URL, "r", "index")
			seen.check(t, before)
			tt.restart(t, in)
			pl, after := checkSegments(t, srv.URL, "r", "index")
			seen.check(t, after)
			seen.recheck(t)
			if len(pl.Segments) != 3 || pl.MediaSequence != 2 {
				t.Fatalf("after restart: %d segments from %d", len(pl.Segments), pl.MediaSequence)
			}
			if !pl.Segments[2].Discontinuity {
				t.Fatal("no discontinuity before the new epoch")
			}
			e3, s3, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[1].URI, "index/"))
			e4, s4, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[2].URI, "index/"))
			if e3 == e4 || s4 != s3+1 {
				t.Fatalf("epochs %s/%s, seqs %d/%d", e3, e4, s3, s4)
			}
		})
	}
}

// TestDiscontinuitySequence slides a discontinuity out of the window.
func TestDiscontinuitySequence(t *testing.T) {
	_, srv := start(t, Config{Window: 2})
	in := srv.URL + "/ingest/d/"
	push := func(i, sampleIdx int) {
		mustPut(t, in+fmt.Sprintf("index%d.ts", i), sample(t, sampleIdx))
		mustPut(t, in+"index.m3u8", tsPlaylist(i, 1, false))
	}
	push(0, 0)
	push(1, 1)
	push(0, 2) // restart: backwards
	pl := mediaPlaylist(t, srv.URL+"/live/d/index.m3u8")
	if pl.DiscontinuitySequence != nil || !pl.Segments[1].Discontinuity {
		t.Fatalf("restart not marked:\n%s", get(t, srv.URL+"/live/d/index.m3u8").body)
	}
	push(1, 3)
	pl = mediaPlaylist(t, srv.URL+"/live/d/index.m3u8")
	if pl.DiscontinuitySequence != nil || !pl.Segments[0].Discontinuity {
		t.Fatalf("discontinuity at the head of the window:\n%s", get(t, srv.URL+"/live/d/index.m3u8").body)
	}
	push(2, 4)
	pl = mediaPlaylist(t, srv.URL+"/live/d/index.m3u8")
	if pl.DiscontinuitySequence == nil || *pl.DiscontinuitySequence != 1 || pl.Segments[0].Discontinuity || pl.MediaSequence != 3 {
		t.Fatalf("discontinuity slid out:\n%s", get(t, srv.URL+"/live/d/index.m3u8").body)
	}
}

func TestWindowBound(t *testing.T) {
	o, srv := start(t, Config{Window: 3})
	in := srv.URL + "/ingest/w/"
	for i := range 30 {
		mustPut(t, in+fmt.Sprintf("index%d.ts", i), sample(t, i%8))
		mustPut(t, in+"index.m3u8", tsPlaylist(max(0, i-4), min(i+1, 5), false))
	}
	pl, _ := checkSegments(t, srv.URL, "w", "index")
	if len(pl.Segments) != 3 || pl.MediaSequence != 27 {
		t.Fatalf("%d segments from %d, want 3 from 27", len(pl.Segments), pl.MediaSequence)
	}
	epoch, _, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[0].URI, "index/"))
	for seq := range 30 {
		r := get(t, srv.URL+"/live/w/index/"+media.SegmentName(epoch, uint64(seq), ".ts"))
		want := http.StatusNotFound
		if seq >= 24 {
			want = http.StatusOK // listed, or one window past it
		}
		if r.code != want {
			t.Errorf("segment %d: %d, want %d", seq, r.code, want)
		}
	}
	s := o.lookup("w")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n := len(s.renditions["index"].segs); n != 6 {
		t.Errorf("%d segments retained, want 6", n)
	}
	if len(s.files) != 0 {
		t.Errorf("%d pending files left", len(s.files))
	}
}

func TestDelete(t *testing.T) {
	_, srv := start(t, Config{})
	in := srv.URL + "/ingest/del/"
	mustPut(t, in+"index0.ts", sample(t, 0))
	if r := do(t, http.MethodDelete, in+"index0.ts", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE pending: %d %s", r.code, r.body)
	}
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	if r := get(t, srv.URL+"/live/del/index.m3u8"); r.code != http.StatusNotFound {
		t.Fatalf("deleted segment published: %d\n%s", r.code, r.body)
	}
	mustPut(t, in+"index1.ts", sample(t, 1))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 2, false))
	pl, segs := checkSegments(t, srv.URL, "del", "index")
	if len(pl.Segments) != 1 || !bytes.Equal(segs[0].data[188:], sample(t, 1)[188:]) {
		t.Fatalf("%d segments", len(pl.Segments))
	}
	// Deleting a published segment's source does not unpublish ours.
	if r := do(t, http.MethodDelete, in+"index1.ts", nil); r.code != http.StatusNoContent {
		t.Fatalf("DELETE published: %d", r.code)
	}
	if r := get(t, segs[0].url); r.code != http.StatusOK {
		t.Fatalf("published segment gone after DELETE: %d", r.code)
	}
	if r := do(t, http.MethodDelete, srv.URL+"/ingest/nosuch/index0.ts", nil); r.code != http.StatusNotFound {
		t.Fatalf("DELETE in unknown stream: %d", r.code)
	}
}

func TestBadInput(t *testing.T) {
	reg := prometheus.NewRegistry()
	o, srv := start(t, Config{
		PublishToken:    "s3cret",
		PublishSecret:   []byte("hmac-secret"),
		MaxSegmentBytes: 1 << 20,
		Demo:            true,
		Registerer:      reg,
	})
	auth := []string{"Authorization", "Bearer s3cret"}
	// A healthy stream that must survive everything below.
	mustPut(t, srv.URL+"/ingest/ok/index0.ts?token=s3cret", sample(t, 0))
	mustPut(t, srv.URL+"/ingest/ok/index.m3u8?token=s3cret", tsPlaylist(0, 1, false))
	_, healthy := checkSegments(t, srv.URL, "ok", "index")

	big := bytes.Repeat(sample(t, 0), 3)
	tests := []struct {
		name   string
		method string
		path   string // raw, sent as is
		body   []byte
		hdr    []string
		code   int
		reason string
	}{
		{"traversal", "PUT", "/ingest/x/../../etc/passwd.ts", sample(t, 0), auth, 400, "name"},
		{"encoded traversal", "PUT", "/ingest/x/%2e%2e/y.ts", sample(t, 0), auth, 400, "name"},
		{"traversal in stream", "PUT", "/ingest/../index.m3u8", tsPlaylist(0, 1, false), auth, 400, "name"},
		{"absolute", "PUT", "/ingest/x//etc/passwd.ts", sample(t, 0), auth, 400, "name"},
		{"bad extension", "PUT", "/ingest/x/evil.sh", sample(t, 0), auth, 400, "name"},
		{"no file", "PUT", "/ingest/x", sample(t, 0), auth, 400, "name"},
		{"bad stream name", "PUT", "/ingest/a.b/index0.ts", sample(t, 0), auth, 400, "name"},
		{"hidden file", "PUT", "/ingest/x/.index0.ts", sample(t, 0), auth, 400, "name"},
		{"oversized segment", "PUT", "/ingest/x/index0.ts", big, auth, 413, "size"},
		{"oversized playlist", "PUT", "/ingest/x/index.m3u8", bytes.Repeat([]byte("#EXTM3U\n"), 200000), auth, 413, "size"},
		{"garbage playlist", "PUT", "/ingest/x/index.m3u8", []byte("hello world"), auth, 400, "playlist"},
		{"playlist escaping", "PUT", "/ingest/x/index.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n../ok/index0.ts\n"), auth, 400, "playlist"},
		{"playlist absolute URL", "PUT", "/ingest/x/index.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://evil/a.ts\n"), auth, 400, "playlist"},
		{"garbage segment", "PUT", "/ingest/x/index0.ts", bytes.Repeat([]byte("garbage!"), 100), auth, 400, "segment"},
		{"garbage fmp4", "PUT", "/ingest/x/index0.m4s", sample(t, 0), auth, 400, "segment"},
		{"missing token", "PUT", "/ingest/x/index0.ts", sample(t, 0), nil, 401, "auth"},
		{"wrong token", "PUT", "/ingest/x/index0.ts", sample(t, 0), []string{"Authorization", "Bearer nope"}, 403, "auth"},
		{"expired hmac token", "PUT", "/ingest/x/index0.ts?token=" + token.Sign([]byte("hmac-secret"), "x", time.Now().Add(-time.Minute)), sample(t, 0), nil, 403, "auth"},
		{"hmac token of another stream", "PUT", "/ingest/x/index0.ts?token=" + token.Sign([]byte("hmac-secret"), "y", time.Now().Add(time.Minute)), sample(t, 0), nil, 403, "auth"},
		{"demo is reserved", "PUT", "/ingest/demo/index0.ts", sample(t, 0), auth, 409, "reserved"},
		{"method", "PATCH", "/ingest/x/index0.ts", sample(t, 0), auth, 405, "method"},
		{"delete without token", "DELETE", "/ingest/ok/index0.ts", nil, nil, 401, "auth"},
		{"unknown stream", "GET", "/live/x/index.m3u8", nil, nil, 404, ""},
		{"unknown rendition", "GET", "/live/ok/nope.m3u8", nil, nil, 404, ""},
		{"unknown segment", "GET", "/live/ok/index/abc-99.ts", nil, nil, 404, ""},
		{"bad segment name", "GET", "/live/ok/index/../../x", nil, nil, 404, ""},
		{"live PUT", "PUT", "/live/ok/index.m3u8", tsPlaylist(0, 1, false), auth, 405, ""},
		{"elsewhere", "GET", "/etc/passwd", nil, nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rejected(t, reg, tt.reason)
			req, err := http.NewRequest(tt.method, srv.URL, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			path, query, _ := strings.Cut(tt.path, "?")
			req.URL.Opaque = path // send the path exactly as written
			req.URL.RawQuery = query
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("%s %s: %d %q, want %d", tt.method, tt.path, resp.StatusCode, body.String(), tt.code)
			}
			if !strings.HasPrefix(body.String(), "origin: ") || len(body.String()) < 15 {
				t.Errorf("no reason in body: %q", body.String())
			}
			if tt.reason != "" {
				if got := rejected(t, reg, tt.reason); got != before+1 {
					t.Errorf("rejected{reason=%q} went from %v to %v", tt.reason, before, got)
				}
			}
			if s := o.lookup("x"); s != nil {
				t.Fatal("stream x was created")
			}
		})
	}
	// Still serving, bytes unchanged.
	_, after := checkSegments(t, srv.URL, "ok", "index")
	if !bytes.Equal(after[0].data, healthy[0].data) {
		t.Fatal("healthy stream changed")
	}
	// A valid per-stream HMAC token is accepted.
	tok := token.Sign([]byte("hmac-secret"), "x", time.Now().Add(time.Minute))
	mustPut(t, srv.URL+"/ingest/x/index0.ts?token="+tok, sample(t, 0))
}

func TestStreamLimit(t *testing.T) {
	_, srv := start(t, Config{MaxStreams: 1})
	mustPut(t, srv.URL+"/ingest/a/index0.ts", sample(t, 0))
	if r := put(t, srv.URL+"/ingest/b/index0.ts", sample(t, 0)); r.code != http.StatusServiceUnavailable {
		t.Fatalf("second stream: %d %s", r.code, r.body)
	}
	mustPut(t, srv.URL+"/ingest/a/index1.ts", sample(t, 1))
}

func TestQuietTimeout(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, srv := start(t, Config{QuietTimeout: time.Second, Linger: 300 * time.Millisecond, Registerer: reg})
	in := srv.URL + "/ingest/q/"
	mustPut(t, in+"index0.ts", sample(t, 0))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	if pl := mediaPlaylist(t, srv.URL+"/live/q/index.m3u8"); pl.Endlist {
		t.Fatal("ended at once")
	}
	if g := gauge(t, reg, "shoal_origin_streams"); g != 1 {
		t.Fatalf("streams gauge %v", g)
	}
	waitFor(t, 5*time.Second, "ENDLIST", func() bool {
		r := get(t, srv.URL+"/live/q/index.m3u8")
		return r.code == http.StatusOK && bytes.Contains(r.body, []byte("#EXT-X-ENDLIST"))
	})
	waitFor(t, 5*time.Second, "removal", func() bool {
		return get(t, srv.URL+"/live/q/index.m3u8").code == http.StatusNotFound
	})
	if g := gauge(t, reg, "shoal_origin_streams"); g != 0 {
		t.Fatalf("streams gauge %v after removal", g)
	}
	// The encoder comes back: a fresh stream.
	mustPut(t, in+"index1.ts", sample(t, 1))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 2, false))
	pl, _ := checkSegments(t, srv.URL, "q", "index")
	if len(pl.Segments) != 1 || pl.Endlist {
		t.Fatalf("after return: %d segments, endlist %v", len(pl.Segments), pl.Endlist)
	}
}

// TestQuietThenResume: an encoder that resumes after its stream ended (but before
// removal) starts a new epoch.
func TestQuietThenResume(t *testing.T) {
	_, srv := start(t, Config{QuietTimeout: time.Second, Linger: time.Minute})
	in := srv.URL + "/ingest/q/"
	mustPut(t, in+"index0.ts", sample(t, 0))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	waitFor(t, 5*time.Second, "ENDLIST", func() bool {
		return bytes.Contains(get(t, srv.URL+"/live/q/index.m3u8").body, []byte("#EXT-X-ENDLIST"))
	})
	mustPut(t, in+"index1.ts", sample(t, 1))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 2, false))
	pl, _ := checkSegments(t, srv.URL, "q", "index")
	if len(pl.Segments) != 2 || pl.Endlist || !pl.Segments[1].Discontinuity {
		t.Fatalf("resume:\n%s", get(t, srv.URL+"/live/q/index.m3u8").body)
	}
}

func TestHeaders(t *testing.T) {
	_, srv := start(t, Config{})
	in := srv.URL + "/ingest/h/"
	mustPut(t, in+"index0.ts", sample(t, 0))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	pl := mediaPlaylist(t, srv.URL+"/live/h/index.m3u8")
	segURL := srv.URL + "/live/h/" + pl.Segments[0].URI
	full := get(t, segURL)

	tests := []struct {
		name, method, url string
		hdr               []string
		code              int
		want              map[string]string
		bodyLen           int // -1: don't care
	}{
		{"playlist", "GET", srv.URL + "/live/h/index.m3u8", nil, 200,
			map[string]string{"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "public, max-age=1"}, -1},
		{"segment", "GET", segURL, nil, 200,
			map[string]string{"Content-Type": "video/mp2t", "Cache-Control": cacheImmutable, "Content-Length": fmt.Sprint(len(full.body))}, len(full.body)},
		{"head", "HEAD", segURL, nil, 200,
			map[string]string{"Content-Type": "video/mp2t", "Content-Length": fmt.Sprint(len(full.body))}, 0},
		{"range", "GET", segURL, []string{"Range", "bytes=16384-32767"}, 206,
			map[string]string{"Content-Range": fmt.Sprintf("bytes 16384-32767/%d", len(full.body)), "Content-Length": "16384"}, 16384},
		{"etag", "GET", segURL, []string{"If-None-Match", full.header.Get("ETag")}, 304, nil, 0},
		{"record", "GET", strings.TrimSuffix(segURL, ".ts") + ".rec", nil, 200,
			map[string]string{"Content-Type": "application/octet-stream", "Cache-Control": cacheImmutable}, -1},
		{"key", "GET", srv.URL + "/live/h/key", nil, 200, map[string]string{"Cache-Control": "public, max-age=60"}, -1},
		{"record as ts", "GET", strings.TrimSuffix(segURL, ".ts") + ".m4s", nil, 404, map[string]string{"Cache-Control": "no-store"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, tt.url, nil, tt.hdr...)
			if r.code != tt.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tt.code)
			}
			for k, v := range tt.want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.bodyLen >= 0 && len(r.body) != tt.bodyLen {
				t.Errorf("body %d bytes, want %d", len(r.body), tt.bodyLen)
			}
			if tt.name == "range" && !bytes.Equal(r.body, full.body[16384:32768]) {
				t.Error("range body differs")
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, srv := start(t, Config{Registerer: reg})
	in := srv.URL + "/ingest/m/"
	mustPut(t, in+"index0.ts", sample(t, 0))
	mustPut(t, in+"index.m3u8", tsPlaylist(0, 1, false))
	put(t, in+"index1.ts", []byte("garbage"))
	if v := counter(t, reg, "shoal_origin_segments_published_total", "stream", "m"); v != 1 {
		t.Errorf("published %v", v)
	}
	if v := counter(t, reg, "shoal_origin_ingest_bytes_total", "stream", "m"); v != float64(len(sample(t, 0))+len(tsPlaylist(0, 1, false))) {
		t.Errorf("ingest bytes %v", v)
	}
	if v := rejected(t, reg, "segment"); v != 1 {
		t.Errorf("rejected %v", v)
	}
	// Two origins in one process: separate registries, no conflict.
	if _, err := New(Config{Registerer: prometheus.NewRegistry()}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Fatal("double registration accepted")
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func rejected(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	return counter(t, reg, "shoal_origin_ingest_rejected_total", "reason", reason)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
