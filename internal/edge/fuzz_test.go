package edge

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
)

// FuzzParsePath: any accepted path stays inside /live/{stream}/ with at most
// maxSubElems clean elements, so it can be appended to the origin URL as is.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/live/demo/index.m3u8", "/live/demo/index/mabc12-41.ts", "/live/demo/key",
		"/live/../x", "/live/demo/../../etc/passwd", "/live//x.ts", "/live/demo/a/b/c.ts"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tg, err := parsePath(p)
		if err != nil {
			return
		}
		rest, ok := strings.CutPrefix(tg.path, "/live/")
		if !ok || tg.stream == "" || !strings.HasPrefix(rest, tg.stream+"/") {
			t.Fatalf("accepted %q as %+v", p, tg)
		}
		for _, e := range strings.Split(rest, "/") {
			if e == "" || e == "." || e == ".." || strings.ContainsAny(e, "?#%\\ ") {
				t.Fatalf("accepted %q with element %q", p, e)
			}
		}
		if u, err := url.Parse("http://origin" + tg.path); err != nil || u.Path != tg.path || u.RawQuery != "" {
			t.Fatalf("accepted %q does not map 1:1 to an origin URL", p)
		}
	})
}

// FuzzRewritePlaylist: rewriting never panics, keeps the line structure and leaves
// comment lines without URI attributes unchanged.
func FuzzRewritePlaylist(f *testing.F) {
	f.Add([]byte(testPlaylist), "tok")
	f.Add([]byte("#EXTM3U\r\n#EXT-X-MEDIA:URI=\"a.m3u8\",URI=\"\r\nx?token=1#frag\n"), "a b&c")
	f.Fuzz(func(t *testing.T, body []byte, tok string) {
		out := rewritePlaylist(body, tok)
		if got, want := bytes.Count(out, []byte("\n")), bytes.Count(body, []byte("\n")); got != want {
			t.Fatalf("%d lines out of %d", got, want)
		}
		inLines, outLines := bytes.Split(body, []byte("\n")), bytes.Split(out, []byte("\n"))
		for i, l := range inLines {
			if bytes.HasPrefix(l, []byte("#")) && !bytes.Contains(l, uriAttr) && !bytes.Equal(l, outLines[i]) {
				t.Fatalf("line %d changed: %q → %q", i, l, outLines[i])
			}
		}
	})
}
