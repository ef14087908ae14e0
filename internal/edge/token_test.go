package edge

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/token"
)

func TestViewerTokens(t *testing.T) {
	secret := []byte("play-secret")
	f := newFixture(t, Config{PlaySecret: secret}, map[string][]byte{
		segPath:                 pattern(100, 1),
		"/live/demo/index.m3u8": []byte(testPlaylist),
	})
	now := f.clock.now()
	valid := token.Sign(secret, "demo", now.Add(time.Hour))
	tests := []struct {
		name   string
		query  string
		header string
		code   int
		reason string
	}{
		{"missing", "", "", 403, "missing"},
		{"expired", token.Sign(secret, "demo", now.Add(-time.Second)), "", 403, "expired"},
		{"wrong stream", token.Sign(secret, "other", now.Add(time.Hour)), "", 403, "stream"},
		{"wrong secret", token.Sign([]byte("nope"), "demo", now.Add(time.Hour)), "", 403, "signature"},
		{"garbage", "garbage", "", 403, "token"},
		{"valid query", valid, "", 200, ""},
		{"valid bearer", "", "Bearer " + valid, 200, ""},
		{"any stream", token.Sign(secret, "*", now.Add(time.Hour)), "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := segPath
			if tc.query != "" {
				p += "?token=" + url.QueryEscape(tc.query)
			}
			hdr := map[string]string{}
			if tc.header != "" {
				hdr["Authorization"] = tc.header
			}
			resp, body := f.do(t, http.MethodGet, p, hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if tc.reason != "" && !strings.Contains(string(body), tc.reason) {
				t.Fatalf("reason %q does not mention %q", body, tc.reason)
			}
		})
	}
	// Preflights carry no credentials.
	if resp, _ := f.do(t, http.MethodOptions, segPath, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight without token: %d", resp.StatusCode)
	}
	// Rejected requests never reach the origin.
	if got := f.origin.count("/live/demo/index.m3u8"); got != 0 {
		t.Fatalf("origin saw %d playlist requests before any valid one", got)
	}
}

func TestPlaylistTokenRewrite(t *testing.T) {
	secret := []byte("play-secret")
	f := newFixture(t, Config{PlaySecret: secret}, map[string][]byte{
		"/live/demo/index.m3u8":            []byte(testPlaylist),
		"/live/demo/index/mabc12-41.m4s":   pattern(100, 1),
		"/live/demo/index/mabc12-42.m4s":   pattern(100, 2),
		"/live/demo/index/mabc12-init.mp4": pattern(100, 3),
	})
	exp := f.clock.now().Add(time.Hour)
	tokA := token.Sign(secret, "demo", exp)
	tokB := token.Sign(secret, "*", exp)

	base, _ := url.Parse(f.srv.URL + "/live/demo/index.m3u8")
	for _, tok := range []string{tokA, tokB} {
		resp, body := f.get(t, "/live/demo/index.m3u8?token="+url.QueryEscape(tok))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("playlist: %d %s", resp.StatusCode, body)
		}
		uris := playlistURIs(t, body)
		if len(uris) != 3 {
			t.Fatalf("found %d URIs in\n%s", len(uris), body)
		}
		for _, u := range uris {
			ref, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			if got := ref.Query().Get("token"); got != tok {
				t.Fatalf("URI %q carries token %q, want this request's", u, got)
			}
			// The child request, as a player would make it, passes the token check.
			child := base.ResolveReference(ref)
			resp, cb := f.get(t, child.RequestURI())
			if resp.StatusCode != http.StatusOK || len(cb) != 100 {
				t.Fatalf("child %s: %d %s", child.RequestURI(), resp.StatusCode, cb)
			}
		}
	}
	if got := f.origin.count("/live/demo/index.m3u8"); got != 1 {
		t.Fatalf("origin saw %d playlist requests, want 1 (the cached body is shared)", got)
	}
	// With a bearer token (no query) the playlist is served unchanged.
	_, body := f.do(t, http.MethodGet, "/live/demo/index.m3u8", map[string]string{"Authorization": "Bearer " + tokA})
	if string(body) != testPlaylist {
		t.Fatalf("bearer request got a rewritten playlist:\n%s", body)
	}
}

// playlistURIs returns URI lines and URI="..." attribute values.
func playlistURIs(t *testing.T, body []byte) []string {
	t.Helper()
	var uris []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if _, rest, ok := strings.Cut(line, `URI="`); ok {
				v, _, _ := strings.Cut(rest, `"`)
				uris = append(uris, v)
			}
		default:
			uris = append(uris, line)
		}
	}
	return uris
}

func TestRewritePlaylist(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"uri line", "#EXTINF:2,\nseg-1.ts\n", "#EXTINF:2,\nseg-1.ts?token=T\n"},
		{"crlf kept", "#EXTINF:2,\r\nseg-1.ts\r\n", "#EXTINF:2,\r\nseg-1.ts?token=T\r\n"},
		{"no final newline", "seg-1.ts", "seg-1.ts?token=T"},
		{"existing query", "seg.ts?a=1\n", "seg.ts?a=1&token=T\n"},
		{"replaces token", "seg.ts?token=old\n", "seg.ts?token=T\n"},
		{"absolute path", "/live/demo/x.ts\n", "/live/demo/x.ts?token=T\n"},
		{"other host untouched", "https://cdn.example/x.ts\n", "https://cdn.example/x.ts\n"},
		{"map attr", `#EXT-X-MAP:URI="init.mp4"` + "\n", `#EXT-X-MAP:URI="init.mp4?token=T"` + "\n"},
		{"media attr", `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="a/index.m3u8",NAME="x"` + "\n",
			`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="a/index.m3u8?token=T",NAME="x"` + "\n"},
		{"lookalike attr", `#EXT-X-FOO:X-URI="a",URI="b"`, `#EXT-X-FOO:X-URI="a",URI="b?token=T"`},
		{"unterminated attr", `#EXT-X-MAP:URI="init.mp4`, `#EXT-X-MAP:URI="init.mp4`},
		{"plain tags", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n\n", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(rewritePlaylist([]byte(tc.in), "T")); got != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestEmptyPlaySecretDisablesTokens(t *testing.T) {
	f := newFixture(t, Config{PlaySecret: []byte{}}, map[string][]byte{segPath: pattern(10, 1)})
	if resp, body := f.get(t, segPath); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d (%s), want 200 without a secret", resp.StatusCode, body)
	}
}
