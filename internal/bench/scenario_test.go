package bench

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

func plan(name string, peers int, d time.Duration) []viewerSpec {
	return scenarios[name](planParams{peers: peers, duration: d, bitrate: 2e6, rng: rand.New(rand.NewPCG(1, 2))})
}

func TestScenarios(t *testing.T) {
	const n, d = 100, 10 * time.Minute
	tests := []struct {
		name       string
		minViewers int
		maxViewers int
		meanUp     [2]float64 // × bitrate
		joinBy     time.Duration
	}{
		{ScenarioSteady, n, n, [2]float64{1.5, 1.5}, 2 * time.Second},
		{ScenarioFlashCrowd, n, n, [2]float64{1.5, 1.5}, d/4 + 3*time.Second},
		// 30%/min of 100 over ~9.8 min: ~290 newcomers (Poisson).
		{ScenarioChurn, n + 230, n + 360, [2]float64{1.5, 1.5}, d},
		{ScenarioHeterogeneous, n, n, [2]float64{1.0, 1.12}, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs := plan(tc.name, n, d)
			if len(vs) < tc.minViewers || len(vs) > tc.maxViewers {
				t.Errorf("%d viewers, want %d..%d", len(vs), tc.minViewers, tc.maxViewers)
			}
			names := map[string]bool{}
			for _, v := range vs {
				if names[v.Name] {
					t.Errorf("duplicate viewer %s", v.Name)
				}
				names[v.Name] = true
				if v.Join < 0 || v.Join > tc.joinBy {
					t.Errorf("%s joins at %v, after %v", v.Name, v.Join, tc.joinBy)
				}
				if v.Leave != 0 && v.Leave <= v.Join {
					t.Errorf("%s leaves at %v before joining at %v", v.Name, v.Leave, v.Join)
				}
				if v.Latency <= 0 || v.Down < 2e6 {
					t.Errorf("%s: latency %v, down %v", v.Name, v.Latency, v.Down)
				}
			}
			// At every moment N viewers watch (churn replaces each leaver at once).
			for _, at := range []time.Duration{d / 2, d - 3*time.Second} {
				watching := 0
				for _, v := range vs {
					if v.Join <= at && (v.Leave == 0 || v.Leave > at) {
						watching++
					}
				}
				if watching != n {
					t.Errorf("%d watching at %v, want %d", watching, at, n)
				}
			}
			up := meanUpload(vs, d) / 2e6
			if up < tc.meanUp[0]-0.01 || up > tc.meanUp[1]+0.01 {
				t.Errorf("mean upload %.3f× bitrate, want %.2f..%.2f", up, tc.meanUp[0], tc.meanUp[1])
			}
		})
	}
}

func TestHeterogeneousShares(t *testing.T) {
	vs := plan(ScenarioHeterogeneous, 40, time.Minute)
	var none, tiny, lossy int
	for _, v := range vs {
		switch {
		case v.Up == 0:
			none++
		case v.Up < 2e6:
			tiny++
		}
		if v.Loss > 0 {
			lossy++
		}
	}
	if none != 10 || tiny != 10 || lossy != 10 {
		t.Errorf("no upload %d, tiny %d, lossy %d; want 10 each of 40", none, tiny, lossy)
	}
}

func TestOffloadLimit(t *testing.T) {
	tests := []struct {
		n              int
		up, rate, want float64
	}{
		{100, 1.5e6, 1e6, 0.99}, // enough upload: one copy per segment
		{4, 3e6, 1e6, 0.75},
		{100, 0.5e6, 1e6, 0.5}, // upload-bound
		{1, 9e6, 1e6, 0},       // alone: everything from the CDN
		{10, 0, 1e6, 0},
		{0, 1e6, 1e6, 0},
	}
	for _, tc := range tests {
		if got := offloadLimit(tc.n, tc.up, tc.rate); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("offloadLimit(%d, %v, %v) = %v, want %v", tc.n, tc.up, tc.rate, got, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Scenario: "nope"},
		{Peers: -1},
		{Duration: time.Second},
		{Bitrate: 1000},
		{Transport: "carrier-pigeon"},
		{Only: "both"},
		{Bitrate: 4e6, SegmentDuration: time.Millisecond},
		{SegmentDuration: 6 * time.Second}, // the demo's segments are 2 s
		{Speed: -2},
		{Speed: 1000},
		{Transport: TransportWebRTC, Speed: 4},
		{Input: "in", Bitrate: 1e6},                     // the input sets the bitrate
		{Input: "in", SegmentDuration: 2 * time.Second}, // and the segments
		{Input: "in", Scenario: ScenarioVOD},
	} {
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", c, err)
		}
	}
	c, err := Config{}.withDefaults()
	if err != nil || c.Scenario != ScenarioSteady || c.Peers != 10 || c.Transport != TransportEmulated || c.Speed != 1 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if err := CheckPlotPath("x.jpg"); !errors.Is(err, ErrConfig) {
		t.Errorf("CheckPlotPath(x.jpg) = %v", err)
	}
}

func TestQuantile(t *testing.T) {
	xs := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.95, 10}, {0, 1}, {1, 10}} {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

// TestShaper: bodies share the downlink: 1 MB at 8 Mbit/s takes ~1 s of
// waiting, whatever the chunking.
// On a faster clock the budget is the same in stream time.
func TestShaperBudget(t *testing.T) {
	for _, speed := range []float64{1, 4} {
		clk := transport.ScaledClock(speed)
		s := &shaper{clk: clk, speed: speed, rate: 1e6} // bytes/s
		start := clk.Now()
		s.take(100_000)
		s.take(100_000)
		s.mu.Lock()
		granted := s.free.Sub(start)
		s.mu.Unlock()
		if granted < 190*time.Millisecond || granted > 400*time.Millisecond {
			t.Errorf("speed %g: 200 kB at 1 MB/s granted until +%v of stream time, want ~200 ms", speed, granted)
		}
		if el := clk.Now().Sub(start); el < 100*time.Millisecond {
			t.Errorf("speed %g: take returned after %v of stream time, before most of its bytes crossed", speed, el)
		}
	}
}

func TestEncoderSegments(t *testing.T) {
	e := synthetic{bitrate: 3_000_000, segDur: 2 * time.Second, seed: 1}
	a, d := e.segment(0)
	b, _ := e.segment(1)
	if d != 2*time.Second {
		t.Errorf("segment of %v, want 2s", d)
	}
	if len(a) != 750_000/188*188 || len(a)%188 != 0 {
		t.Errorf("segment of %d bytes, want %d", len(a), 750_000/188*188)
	}
	for off := 0; off < len(a); off += 188 {
		if a[off] != 0x47 {
			t.Fatalf("no sync byte at %d", off)
		}
	}
	if string(a) == string(b) {
		t.Error("two segments have the same bytes")
	}
}

func TestClasses(t *testing.T) {
	cs := classes([]ViewerReport{
		{UpBPS: 2e6, Stalls: 0, P2PBytes: 300, CDNMediaBytes: 100, UploadBytes: 50},
		{UpBPS: 0, Stalls: 2, P2PBytes: 100, CDNMediaBytes: 100},
		{UpBPS: 2e6, Stalls: 1, P2PBytes: 100, CDNMediaBytes: 300, UploadBytes: 70},
	})
	want := []ClassReport{
		{UpBPS: 0, Viewers: 1, Stalled: 1, Stalls: 2, Offload: 0.5, CDNMediaBytes: 100},
		{UpBPS: 2e6, Viewers: 2, Stalled: 1, Stalls: 1, Offload: 0.5, UploadBytes: 120, CDNMediaBytes: 400},
	}
	if len(cs) != len(want) {
		t.Fatalf("classes: %+v", cs)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Errorf("class %d: %+v, want %+v", i, cs[i], want[i])
		}
	}
}

// TestSyntheticStream: the synthetic encoder's segments pass the origin's
// ingest and are published at the asked bitrate.
func TestSyntheticStream(t *testing.T) {
	cfg, err := Config{Bitrate: 800_000}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	refs := published(t, cfg)
	if br := measuredBitrate(refs); br < 790_000 || br > 800_000 {
		t.Errorf("published %.0f bit/s, want ~800000", br)
	}
	for p := range refs {
		if !isMedia(p) || !strings.HasPrefix(p, "/live/"+syntheticStream+"/"+rendition+"/") {
			t.Errorf("reference path %q", p)
		}
	}
}

// published starts cfg's origin and reference and returns what the origin
// published by the end of the back-fill (at least 4 segments).
func published(t *testing.T, cfg Config) map[string]refSeg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := newEnv(ctx, cfg, transport.SystemClock(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	refs := e.ref.all()
	if len(refs) < 4 {
		t.Fatalf("%d segments published after the back-fill, want 4", len(refs))
	}
	return refs
}
