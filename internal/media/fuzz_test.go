package media

import (
	"strings"
	"testing"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// FuzzParse checks that no input makes the playlist validation panic, and that every
// accepted media playlist survives our rendering and parses again.
func FuzzParse(f *testing.F) {
	f.Add([]byte(ffmpegTS))
	f.Add([]byte(ffmpegFMP4))
	f.Add([]byte(ffmpegMaster))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := Parse(b)
		if err != nil {
			return
		}
		switch p := pl.(type) {
		case *playlist.Media:
			out := MediaPlaylist{MediaSequence: uint64(p.MediaSequence)}
			for i, s := range p.Segments {
				out.Segments = append(out.Segments, Segment{URI: SegmentName("e", uint64(i), ".ts"), Duration: s.Duration, Discontinuity: s.Discontinuity})
			}
			if _, err := ParseMedia(out.Render()); err != nil {
				t.Fatalf("rendered playlist of accepted input does not parse: %v", err)
			}
		case *playlist.Multivariant:
			out := RewriteMultivariant(p, func(u string) string { return "x.m3u8" })
			if _, err := ParseMultivariant(out); err != nil {
				t.Fatalf("rewritten multivariant does not parse: %v\n%s", err, out)
			}
		}
	})
}

// FuzzCheckFilePath checks that accepted ingest paths can never escape the stream.
func FuzzCheckFilePath(f *testing.F) {
	for _, s := range []string{"index.m3u8", "v1/index0.ts", "../x.ts", "/abs.ts", "a//b.mp4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if _, err := CheckFilePath(p); err != nil {
			return
		}
		if p[0] == '/' || len(p) > 255 {
			t.Fatalf("accepted %q", p)
		}
		for _, e := range strings.Split(p, "/") {
			if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "\\\x00%") {
				t.Fatalf("accepted %q with element %q", p, e)
			}
		}
	})
}
