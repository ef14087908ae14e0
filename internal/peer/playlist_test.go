package peer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
)

const livePL = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:2.000,
index/mabc12-41.ts?token=abc
#EXTINF:2.000,
http://edge.example/live/demo/index/mabc12-42.ts
#EXT-X-DISCONTINUITY
#EXTINF:1.500,
index/mabd00-43.ts
`

func TestParsePlaylist(t *testing.T) {
	pl, err := parsePlaylist([]byte(livePL), "index")
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Entry{
		{Seq: 41, Epoch: "mabc12", URI: "index/mabc12-41.ts", Dur: 2 * time.Second},
		{Seq: 42, Epoch: "mabc12", URI: "index/mabc12-42.ts", Dur: 2 * time.Second},
		{Seq: 43, Epoch: "mabd00", URI: "index/mabd00-43.ts", Dur: 1500 * time.Millisecond},
	}
	if pl.target != 2*time.Second || len(pl.entries) != len(want) {
		t.Fatalf("target %v, %d entries", pl.target, len(pl.entries))
	}
	for i, e := range pl.entries {
		e.PDT = time.Time{}
		if e != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, e, want[i])
		}
	}
	if pl.entries[0].PDT.IsZero() {
		t.Error("PROGRAM-DATE-TIME not kept")
	}
	raw := string(pl.raw)
	for _, bad := range []string{"token=", "http://", "/live/"} {
		if strings.Contains(raw, bad) {
			t.Errorf("rewritten playlist still contains %q:\n%s", bad, raw)
		}
	}
	if !strings.Contains(raw, "\nindex/mabc12-42.ts\n") {
		t.Errorf("absolute URI not made relative:\n%s", raw)
	}
}

func TestParsePlaylistRejects(t *testing.T) {
	for _, tc := range []struct{ name, pl string }{
		{"not a playlist", "hello"},
		{"other rendition", strings.Replace(livePL, "index/mabd00-43.ts", "other/mabd00-43.ts", 1)},
		{"seq mismatch", strings.Replace(livePL, "mabd00-43", "mabd00-44", 1)},
		{"not a published name", strings.Replace(livePL, "mabd00-43.ts", "seg3.ts", 1)},
		{"init section as segment", strings.Replace(livePL, "mabd00-43.ts", "mabd00-init.mp4", 1)},
		{"upper-case epoch", strings.Replace(livePL, "mabd00-43", "MABD00-43", 1)},
	} {
		if _, err := parsePlaylist([]byte(tc.pl), "index"); !errors.Is(err, ErrPlaylist) {
			t.Errorf("%s: err = %v, want ErrPlaylist", tc.name, err)
		}
	}
}

func TestPublished(t *testing.T) {
	seen := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	for _, tc := range []struct {
		name string
		pdt  time.Time
		want time.Time
	}{
		{"no PDT", time.Time{}, seen},
		{"plausible PDT", seen.Add(-5 * time.Second), seen.Add(-3 * time.Second)},
		{"PDT in the future (clock skew)", seen.Add(time.Second), seen},
		{"PDT long ago (clock skew)", seen.Add(-time.Hour), seen},
	} {
		e := engine.Entry{Dur: 2 * time.Second, PDT: tc.pdt}
		if got := e.Published(seen); !got.Equal(tc.want) {
			t.Errorf("%s: published = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzParsePlaylist: whatever the edge sends, parsing never panics, and what
// it accepts follows the naming scheme the engine relies on.
func FuzzParsePlaylist(f *testing.F) {
	f.Add([]byte(livePL))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := parsePlaylist(b, "index")
		rewritePlaylist(b)
		if err != nil {
			return
		}
		for i, e := range pl.entries {
			if !strings.HasPrefix(e.URI, "index/") || e.Dur <= 0 || (i > 0 && e.Seq != pl.entries[i-1].Seq+1) {
				t.Fatalf("accepted entry %d: %+v", i, e)
			}
		}
	})
}
