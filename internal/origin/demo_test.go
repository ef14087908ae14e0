package origin

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// sameTS compares MPEG-TS data ignoring continuity counters (which the origin
// rewrites at a loop wrap).
func sameTS(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(i%188 == 3 && a[i]&0xf0 == b[i]&0xf0) {
			return false
		}
	}
	return true
}

func TestDemoSamples(t *testing.T) {
	total := 0
	for i := range 8 {
		b := sample(t, i)
		if err := media.Sniff(media.KindTS, b); err != nil || len(b)%188 != 0 {
			t.Fatalf("sample %d: %v, %d bytes", i, err, len(b))
		}
		total += len(b)
	}
	if total > 4<<20 {
		t.Fatalf("samples take %d bytes, more than 4 MiB", total)
	}
	// ~1.5 Mbit/s over 16 s.
	if rate := float64(total) * 8 / 16; rate < 1.0e6 || rate > 2.0e6 {
		t.Errorf("sample bitrate %.0f bit/s", rate)
	}
}

func TestDemo(t *testing.T) {
	o, err := New(Config{Demo: true, DemoInterval: 20 * time.Millisecond, Window: 6})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()

	// Live from the first moment, before Run: the back-dated start.
	pl, _ := checkSegments(t, srv.URL, "demo", "index")
	if len(pl.Segments) != DemoBackfill || pl.Endlist {
		t.Fatalf("demo starts with %d segments, want %d", len(pl.Segments), DemoBackfill)
	}
	if pl.Segments[0].DateTime == nil || time.Since(*pl.Segments[0].DateTime) < 7*time.Second {
		t.Errorf("first segments not back-dated: %v", pl.Segments[0].DateTime)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	// Wait until the loop wrapped: seq 8 is sample 0 again.
	waitFor(t, 10*time.Second, "a loop wrap", func() bool {
		pl := mediaPlaylist(t, srv.URL+"/live/demo/index.m3u8")
		return pl.MediaSequence+len(pl.Segments) >= 11
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pl, segs := checkSegments(t, srv.URL, "demo", "index")
	var prev time.Time
	for i, s := range pl.Segments {
		seq := pl.MediaSequence + i
		if want := seq%8 == 0 && seq > 0; s.Discontinuity != want {
			t.Errorf("seq %d: discontinuity %v, want %v", seq, s.Discontinuity, want)
		}
		if !sameTS(segs[i].data, sample(t, seq%8)) {
			t.Errorf("seq %d is not sample %d", seq, seq%8)
		}
		if s.DateTime == nil || (!prev.IsZero() && s.DateTime.Sub(prev) != 2*time.Second) {
			t.Errorf("seq %d: program date time %v after %v", seq, s.DateTime, prev)
		}
		prev = *s.DateTime
	}
	if pl.DiscontinuitySequence != nil && pl.MediaSequence < 8 {
		t.Errorf("discontinuity sequence %d with the wrap still listed", *pl.DiscontinuitySequence)
	}

	// The published bytes decode across the wrap without a single error.
	dir := t.TempDir()
	var m strings.Builder
	m.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n")
	for i, s := range pl.Segments {
		if s.Discontinuity {
			m.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		name := fmt.Sprintf("s%d.ts", i)
		if err := os.WriteFile(filepath.Join(dir, name), segs[i].data, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&m, "#EXTINF:%.3f,\n%s\n", s.Duration.Seconds(), name)
	}
	m.WriteString("#EXT-X-ENDLIST\n")
	if err := os.WriteFile(filepath.Join(dir, "p.m3u8"), []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, want := ffmpegDecode(t, filepath.Join(dir, "p.m3u8")), 50*len(pl.Segments); n != want {
		t.Errorf("decoded %d frames across the wrap, want %d", n, want)
	}
}

// TestDemoPace: without an override the demo publishes one sample per sample duration.
func TestDemoPace(t *testing.T) {
	o, err := New(Config{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := o.demo.interval(); d != 2*time.Second {
		t.Fatalf("interval %v, want the samples' 2s", d)
	}
}
