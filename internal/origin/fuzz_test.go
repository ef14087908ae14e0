package origin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzIngest sends arbitrary files to the ingest handler: it must answer 204 or a 4xx
// with a reason, never panic, and keep serving.
func FuzzIngest(f *testing.F) {
	f.Add("index.m3u8", []byte(tsPlaylist(0, 2, false)))
	f.Add("index.m3u8", []byte("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\nindex0.m4s\n"))
	f.Add("master.m3u8", []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.4d401e\"\nindex_0.m3u8\n"))
	f.Add("index0.ts", append([]byte{0x47}, make([]byte, 375)...))
	f.Add("init.mp4", []byte("\x00\x00\x00\x10ftypisom\x00\x00\x00\x00"))
	f.Add("../x.ts", []byte{0x47})
	o, err := New(Config{MaxSegmentBytes: 1 << 16, MaxPlaylistBytes: 1 << 14, Window: 3})
	if err != nil {
		f.Fatal(err)
	}
	h := o.Handler()
	ts := make([]byte, 376)
	ts[0], ts[188] = 0x47, 0x47
	f.Fuzz(func(t *testing.T, file string, body []byte) {
		for _, p := range []string{"/ingest/fz/" + file, "/ingest/fz/index0.ts", "/ingest/fz/index1.ts"} {
			b := body
			if p != "/ingest/fz/"+file {
				b = ts
			}
			req := httptest.NewRequest(http.MethodPut, "http://o/", bytes.NewReader(b))
			req.URL.Path = p
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusNoContent && (w.Code < 400 || w.Code >= 500) {
				t.Fatalf("PUT %q: status %d", p, w.Code)
			}
			if w.Code != http.StatusNoContent && !bytes.HasPrefix(w.Body.Bytes(), []byte("origin: ")) {
				t.Fatalf("PUT %q: %d without reason: %q", p, w.Code, w.Body.String())
			}
		}
		for _, p := range []string{"/live/fz/index.m3u8", "/live/fz/master.m3u8", "/live/fz/" + file} {
			req := httptest.NewRequest(http.MethodGet, "http://o/", nil)
			req.URL.Path = p
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK && w.Code != http.StatusNotFound {
				t.Fatalf("GET %q: %d", p, w.Code)
			}
		}
	})
}
