package media

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

const ffmpegTS = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:2.000000,
index7.ts
#EXTINF:1.500000,
index8.ts
`

const ffmpegFMP4 = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.000000,
index0.m4s
#EXT-X-ENDLIST
`

const ffmpegMaster = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x240,CODECS="avc1.f4000d,mp4a.40.2"
index_0.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=160x120,CODECS="avc1.f4000b,mp4a.40.2"
index_1.m3u8
`

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  error // nil: valid
		media bool
	}{
		{"ffmpeg ts", ffmpegTS, nil, true},
		{"ffmpeg fmp4", ffmpegFMP4, nil, true},
		{"ffmpeg master", ffmpegMaster, nil, false},
		{"crlf", strings.ReplaceAll(ffmpegTS, "\n", "\r\n"), nil, true},
		{"empty", "", ErrPlaylist, false},
		{"no header", "index0.ts\n", ErrPlaylist, false},
		{"garbage", "#EXTM3U\nhello world\n", ErrPlaylist, false},
		{"no segments", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n", ErrPlaylist, false},
		{"no target", "#EXTM3U\n#EXTINF:2,\na.ts\n", ErrPlaylist, false},
		{"zero duration", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:0,\na.ts\n", ErrPlaylist, false},
		{"negative duration", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:-3,\na.ts\n", ErrPlaylist, false},
		{"huge duration", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1e30,\na.ts\n", ErrPlaylist, false},
		{"nan duration", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:NaN,\na.ts\n", ErrPlaylist, false},
		{"byterange", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\na.ts\n", ErrUnsupported, false},
		{"encrypted", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na.ts\n", ErrUnsupported, false},
		{"bad version", "#EXTM3U\n#EXT-X-VERSION:99\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n", ErrPlaylist, false},
		{"variant without uri", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-ENDLIST\n", ErrPlaylist, false},
		{"quote in uri", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na\".ts\n", ErrPlaylist, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := Parse([]byte(tt.in))
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := pl.(*playlist.Media); ok != tt.media {
				t.Fatalf("media = %v, want %v", ok, tt.media)
			}
		})
	}
	if _, err := ParseMedia([]byte(ffmpegMaster)); !errors.Is(err, ErrPlaylist) {
		t.Errorf("ParseMedia(master) err = %v", err)
	}
	if _, err := ParseMultivariant([]byte(ffmpegTS)); !errors.Is(err, ErrPlaylist) {
		t.Errorf("ParseMultivariant(media) err = %v", err)
	}
}

func TestCheckFilePath(t *testing.T) {
	tests := []struct {
		in   string
		kind FileKind // 0: invalid
	}{
		{"index.m3u8", KindPlaylist},
		{"index_1.m3u8", KindPlaylist},
		{"v1/index.m3u8", KindPlaylist},
		{"index0.ts", KindTS},
		{"INDEX0.TS", KindTS},
		{"index0.m4s", KindFMP4},
		{"init.mp4", KindInit},
		{"a/b/c/d.ts", KindTS},
		{"a/b/c/d/e.ts", 0},
		{"", 0},
		{"../x.ts", 0},
		{"a/../x.ts", 0},
		{"/etc/passwd.ts", 0},
		{"a//b.ts", 0},
		{".hidden.ts", 0},
		{"x.sh", 0},
		{"x.aac", 0},
		{"x", 0},
		{"a b.ts", 0},
		{"a%2f.ts", 0},
		{"a\\b.ts", 0},
		{strings.Repeat("a", 300) + ".ts", 0},
	}
	for _, tt := range tests {
		k, err := CheckFilePath(tt.in)
		if tt.kind == 0 {
			if !errors.Is(err, ErrName) {
				t.Errorf("CheckFilePath(%q) = %v, %v; want ErrName", tt.in, k, err)
			}
			continue
		}
		if err != nil || k != tt.kind {
			t.Errorf("CheckFilePath(%q) = %v, %v; want %v", tt.in, k, err, tt.kind)
		}
	}
}

func TestRenditionName(t *testing.T) {
	tests := map[string]string{
		"index.m3u8":    "index",
		"index_1.m3u8":  "index_1",
		"v1/index.m3u8": "v1-index",
		"a.b.m3u8":      "",
		"x.ts":          "",
		".m3u8":         "",
	}
	for in, want := range tests {
		got, err := RenditionName(in)
		if want == "" {
			if err == nil {
				t.Errorf("RenditionName(%q) = %q, want error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("RenditionName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestResolveRelative(t *testing.T) {
	tests := []struct{ base, uri, want string }{
		{"index.m3u8", "index0.ts", "index0.ts"},
		{"v1/index.m3u8", "seg0.ts", "v1/seg0.ts"},
		{"v1/index.m3u8", "../seg0.ts", ""},
		{"index.m3u8", "http://evil/x.ts", ""},
		{"index.m3u8", "/abs.ts", ""},
		{"index.m3u8", "a.ts?x=1", ""},
		{"index.m3u8", "./a.ts", ""},
	}
	for _, tt := range tests {
		got, _, err := ResolveRelative(tt.base, tt.uri)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ResolveRelative(%q, %q) = %q, want error", tt.base, tt.uri, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveRelative(%q, %q) = %q, %v; want %q", tt.base, tt.uri, got, err, tt.want)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	e1, ms := NewEpoch(time.UnixMilli(1700000000000), 0)
	e2, ms2 := NewEpoch(time.UnixMilli(1700000000000), ms)
	if e1 == e2 || ms2 != ms+1 {
		t.Fatalf("epochs not bumped: %s %s", e1, e2)
	}
	if e1 != strings.ToLower(e1) {
		t.Fatalf("epoch %q not lowercase", e1)
	}
	name := SegmentName(e1, 41, ".ts")
	ep, seq, ext, init, err := ParseSegmentName(name)
	if err != nil || ep != e1 || seq != 41 || ext != ".ts" || init {
		t.Fatalf("ParseSegmentName(%q) = %q %d %q %v %v", name, ep, seq, ext, init, err)
	}
	ep, _, _, init, err = ParseSegmentName(InitName(e1))
	if err != nil || ep != e1 || !init {
		t.Fatalf("ParseSegmentName(init) = %q %v %v", ep, init, err)
	}
	for _, bad := range []string{"", "x.ts", "-1.ts", "ABC-1.ts", "abc-01.ts", "abc-.ts", "abc-1.mp4",
		"abc-init.ts", "abc-1.exe", "a-b-1.ts", "abc-99999999999999999999999.ts"} {
		if _, _, _, _, err := ParseSegmentName(bad); err == nil {
			t.Errorf("ParseSegmentName(%q) accepted", bad)
		}
	}
}

func TestSniff(t *testing.T) {
	ts := make([]byte, 376)
	ts[0], ts[188] = 0x47, 0x47
	badTS := append([]byte(nil), ts...)
	badTS[188] = 0
	box := func(size uint32, typ string, total int) []byte {
		b := make([]byte, total)
		b[0], b[1], b[2], b[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
		copy(b[4:], typ)
		return b
	}
	tests := []struct {
		name string
		kind FileKind
		b    []byte
		ok   bool
	}{
		{"ts", KindTS, ts, true},
		{"ts one packet", KindTS, ts[:188], true},
		{"ts short", KindTS, ts[:100], false},
		{"ts no second sync", KindTS, badTS, false},
		{"ts garbage", KindTS, []byte(strings.Repeat("garbage ", 50)), false},
		{"styp", KindFMP4, box(24, "styp", 100), true},
		{"moof", KindFMP4, box(100, "moof", 100), true},
		{"ftyp init", KindInit, box(32, "ftyp", 64), true},
		{"unknown box", KindFMP4, box(24, "abcd", 100), false},
		{"box too big", KindFMP4, box(1000, "moof", 100), false},
		{"box too small", KindFMP4, box(4, "moof", 100), false},
		{"short", KindFMP4, []byte{0, 0}, false},
		{"playlist kind", KindPlaylist, ts, false},
	}
	for _, tt := range tests {
		err := Sniff(tt.kind, tt.b)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Sniff = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrContainer) {
			t.Errorf("%s: error %v does not wrap ErrContainer", tt.name, err)
		}
	}
}

func TestRender(t *testing.T) {
	pdt := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p := MediaPlaylist{
		MediaSequence:         41,
		DiscontinuitySequence: 2,
		Segments: []Segment{
			{URI: "index/a-41.m4s", Duration: 2 * time.Second, Map: "index/a-init.mp4", ProgramDateTime: pdt},
			{URI: "index/b-42.m4s", Duration: 2600 * time.Millisecond, Map: "index/b-init.mp4", Discontinuity: true},
			{URI: "index/b-43.m4s", Duration: 2 * time.Second, Map: "index/b-init.mp4"},
		},
		Ended: true,
	}
	out := string(p.Render())
	for _, want := range []string{
		"#EXT-X-VERSION:7\n", "#EXT-X-TARGETDURATION:3\n", "#EXT-X-MEDIA-SEQUENCE:41\n",
		"#EXT-X-DISCONTINUITY-SEQUENCE:2\n", "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"index/b-init.mp4\"\n",
		"#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:04:05.000Z\n", "#EXT-X-ENDLIST\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered playlist lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "#EXT-X-MAP"); n != 2 {
		t.Errorf("%d EXT-X-MAP tags, want 2", n)
	}
	m, err := ParseMedia([]byte(out))
	if err != nil {
		t.Fatalf("rendered playlist does not parse: %v\n%s", err, out)
	}
	if m.MediaSequence != 41 || len(m.Segments) != 3 || !m.Segments[1].Discontinuity || !m.Endlist {
		t.Errorf("round trip: %+v", m)
	}
	ts := MediaPlaylist{Segments: []Segment{{URI: "x/a-0.ts", Duration: time.Second}}}
	out = string(ts.Render())
	if !strings.Contains(out, "#EXT-X-VERSION:3\n") || strings.Contains(out, "DISCONTINUITY-SEQUENCE") || strings.Contains(out, "ENDLIST") {
		t.Errorf("ts playlist:\n%s", out)
	}
	if strings.Contains(out, "PLAYLIST-TYPE") {
		t.Errorf("live playlist with a type:\n%s", out)
	}
	vod := MediaPlaylist{VOD: true, Ended: true, Segments: ts.Segments}
	m, err = ParseMedia(vod.Render())
	if err != nil || m.PlaylistType == nil || *m.PlaylistType != "VOD" || !m.Endlist {
		t.Errorf("VOD playlist: %v %+v", err, m)
	}
}

func TestRewriteMultivariant(t *testing.T) {
	m, err := ParseMultivariant([]byte(ffmpegMaster))
	if err != nil {
		t.Fatal(err)
	}
	out := RewriteMultivariant(m, func(u string) string {
		if u == "index_1.m3u8" {
			return ""
		}
		return "renamed-" + u
	})
	m2, err := ParseMultivariant(out)
	if err != nil {
		t.Fatalf("rewritten: %v\n%s", err, out)
	}
	if len(m2.Variants) != 1 || m2.Variants[0].URI != "renamed-index_0.m3u8" || m2.Variants[0].Resolution != "320x240" {
		t.Fatalf("rewritten:\n%s", out)
	}
	if m.Variants[0].URI != "index_0.m3u8" {
		t.Fatal("input modified")
	}
	noCodecs, _ := ParseMultivariant([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"))
	if out := RewriteMultivariant(noCodecs, func(u string) string { return u }); strings.Contains(string(out), "CODECS") {
		t.Fatalf("empty CODECS written:\n%s", out)
	}
}
