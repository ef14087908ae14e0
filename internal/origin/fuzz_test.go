package origin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-cdn/shoal/internal/media"
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

// FuzzTitleIndex decodes arbitrary index.json files: an error or an index whose every
// path element is one this origin could have written, never a panic.
func FuzzTitleIndex(f *testing.F) {
	ix := titleIndex{Version: indexVersion, Name: "film", Kind: titleVOD,
		Renditions: []indexRendition{{Name: "index", Target: 2, Segments: []indexSegment{
			{Epoch: "abc", Seq: 0, Ext: ".ts", DurUS: 2e6, Size: 188, SHA256: strings.Repeat("ab", 32), RecLen: 200},
		}}}}
	f.Add(ix.encode())
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"name":"x","kind":"vod","renditions":[{"name":"../a","target":2,"segments":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeTitleIndex(b, DefaultMaxSegmentBytes, DefaultMaxRenditions)
		if err != nil {
			return
		}
		for _, r := range got.Renditions {
			if !media.ValidName(r.Name) {
				t.Fatalf("rendition %q accepted", r.Name)
			}
			for _, s := range r.Segments {
				if _, _, _, _, err := media.ParseSegmentName(media.SegmentName(s.Epoch, s.Seq, s.Ext)); err != nil {
					t.Fatalf("segment name accepted: %v", err)
				}
			}
		}
	})
}

// FuzzDirTitle loads a --vod-dir title whose playlist is arbitrary: refused or
// loaded, never a panic, and nothing written to the directory.
func FuzzDirTitle(f *testing.F) {
	f.Add([]byte(vodPlaylist(2, true)))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n../../etc/passwd\n#EXT-X-ENDLIST\n"))
	o, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	defer o.Close()
	seg := make([]byte, 376)
	seg[0], seg[188] = 0x47, 0x47
	f.Fuzz(func(t *testing.T, pl []byte) {
		dir := t.TempDir()
		title := filepath.Join(dir, "t")
		_ = os.Mkdir(title, 0o755)
		_ = os.WriteFile(filepath.Join(title, "index.m3u8"), pl, 0o644)
		for i := range 2 {
			_ = os.WriteFile(filepath.Join(title, fmt.Sprintf("index%d.ts", i)), seg, 0o644)
		}
		_, _ = o.loadDirTitle(title, "t", filepath.Join(t.TempDir(), "rec"))
		if ents, _ := os.ReadDir(title); len(ents) != 3 {
			t.Fatalf("directory changed: %d entries", len(ents))
		}
	})
}
