package origin

import (
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/shoal-cdn/shoal/internal/media"
)

// fakeNow is a settable clock for Config.Now.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeNow) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newFakeNow(t time.Time) *fakeNow  { return &fakeNow{t: t} }
func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(make([]byte, 32))
}

// lastCC is the discontinuity sequence number of a playlist's last segment, as a
// player counts it: the playlist's, plus one per tag.
func lastCC(pl *playlist.Media) int {
	cc := discSeq(pl)
	for _, s := range pl.Segments {
		if s.Discontinuity {
			cc++
		}
	}
	return cc
}

// firstEpoch is the epoch of a playlist's first segment.
func firstEpoch(t *testing.T, pl *playlist.Media, rendition string) string {
	t.Helper()
	epoch, _, _, _, err := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[0].URI, rendition+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return epoch
}

// checkContinues asserts that after, the playlist of an origin that replaced a killed
// one without its state, continues before's numbering behind a discontinuity, in a new
// epoch, with records that verify against the same key (checkSegments).
func checkContinues(t *testing.T, before, after *playlist.Media, rendition string) {
	t.Helper()
	lastSeq := before.MediaSequence + len(before.Segments) - 1
	if after.MediaSequence <= lastSeq {
		t.Errorf("restarted media sequence %d, want above %d", after.MediaSequence, lastSeq)
	}
	if !after.Segments[0].Discontinuity {
		t.Errorf("restarted playlist's first segment has no #EXT-X-DISCONTINUITY")
	}
	// Its first segment's discontinuity number must be above every one before.
	if got, prev := discSeq(after)+1, lastCC(before); got <= prev {
		t.Errorf("restarted first segment in discontinuity %d, want above %d", got, prev)
	}
	if a, b := firstEpoch(t, before, rendition), firstEpoch(t, after, rendition); a == b {
		t.Errorf("restarted origin reuses epoch %s", a)
	}
}

// TestClockSequenceIngestRestart: an encoder pushing in real time to an origin that is
// killed and replaced 3 s later (same key, no state) keeps pushing its numbering; the
// new origin's playlist continues the old one's.
func TestClockSequenceIngestRestart(t *testing.T) {
	clk := newFakeNow(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	cfg := Config{ClockSequence: true, Key: testKey(t), Now: clk.now, Window: 4}
	push := func(base string, first, n int) {
		for i := first; i < first+n; i++ {
			mustPut(t, base+fmt.Sprintf("/ingest/cam/index%d.ts", i), sample(t, i%8))
			mustPut(t, base+"/ingest/cam/index.m3u8", tsPlaylist(max(0, i-5), i-max(0, i-5)+1, false))
			clk.add(2 * time.Second)
		}
	}
	_, a := start(t, cfg)
	push(a.URL, 0, 10)
	before, _ := checkSegments(t, a.URL, "cam", "index")
	a.Close() // the kill: nothing of a's state reaches b

	clk.add(3 * time.Second)
	_, b := start(t, cfg)
	push(b.URL, 10, 3)
	after, _ := checkSegments(t, b.URL, "cam", "index")
	checkContinues(t, before, after, "index")
	if !publicKey(t, b.URL, "cam").Equal(cfg.Key.Public()) {
		t.Fatal("the restarted origin signs with another key: viewers' records would not verify")
	}
}

// TestClockSequenceDemoRestart: the demo back-fills DemoBackfill segments at once on
// start, ahead of the clock; a restart 2 s later still numbers above them.
func TestClockSequenceDemoRestart(t *testing.T) {
	for _, down := range []time.Duration{2 * time.Second, 3 * time.Second, 10 * time.Minute} {
		t.Run(down.String(), func(t *testing.T) {
			clk := newFakeNow(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			cfg := Config{ClockSequence: true, Demo: true, Key: testKey(t), Now: clk.now}
			o, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := startServer(t, o)
			before, _ := checkSegments(t, a, "demo", "index")
			if want := int(clockSeq(clk.now())); before.MediaSequence != want {
				t.Errorf("first media sequence %d, want the clock's %d", before.MediaSequence, want)
			}
			clk.add(down)
			o2, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := checkSegments(t, startServer(t, o2), "demo", "index")
			checkContinues(t, before, after, "index")
		})
	}
}

// TestClockSequenceOff: the zero Config numbers from 0 with no leading discontinuity.
func TestClockSequenceOff(t *testing.T) {
	o, err := New(Config{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := checkSegments(t, startServer(t, o), "demo", "index")
	if pl.MediaSequence != 0 || discSeq(pl) != 0 || pl.Segments[0].Discontinuity {
		t.Fatalf("media sequence %d, discontinuity sequence %d, first tagged %v",
			pl.MediaSequence, discSeq(pl), pl.Segments[0].Discontinuity)
	}
}

// startServer serves o (not Run: nothing more is published) until the test ends.
func startServer(t *testing.T, o *Origin) string {
	t.Helper()
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// discSeq is a playlist's EXT-X-DISCONTINUITY-SEQUENCE (0 when absent).
func discSeq(pl *playlist.Media) int {
	if pl.DiscontinuitySequence == nil {
		return 0
	}
	return *pl.DiscontinuitySequence
}
