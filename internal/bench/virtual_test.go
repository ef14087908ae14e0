package bench

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// virtualJSON runs cfg in virtual time and returns its JSON without the
// fields that depend on the machine (wall time, speed, memory, event count
// is kept: it is a function of the seed too).
func virtualJSON(t *testing.T, cfg Config) ([]byte, *Report) {
	t.Helper()
	cfg.Clock = ClockVirtual
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep.WallS, rep.Speed, rep.PeakRSSBytes = 0, 0, 0
	for _, r := range rep.Runs {
		r.WallS = 0
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), rep
}

// TestVirtualDeterministic: one seed, one report, to the byte; another seed
// another report. And the virtual run is a real swarm: the viewers play,
// share and never stall in a steady swarm of ample upload.
func TestVirtualDeterministic(t *testing.T) {
	cfg := Config{Scenario: ScenarioSteady, Peers: 30, Duration: 20 * time.Second, Seed: 7}
	a, rep := virtualJSON(t, cfg)
	b, _ := virtualJSON(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two virtual runs with one seed gave different reports")
	}
	cfg.Seed = 8
	if c, _ := virtualJSON(t, cfg); bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same report")
	}
	if rep.Transport != TransportVirtual {
		t.Errorf("transport %q, want %q", rep.Transport, TransportVirtual)
	}
	cdn, hy := rep.Runs[ModeCDNOnly], rep.Runs[ModeHybrid]
	if cdn == nil || hy == nil {
		t.Fatal("missing a run")
	}
	if cdn.Offload != 0 || cdn.P2PBytes != 0 {
		t.Errorf("CDN-only run: offload %.3f, %d P2P bytes", cdn.Offload, cdn.P2PBytes)
	}
	for name, r := range rep.Runs {
		if r.PeersStarted != 30 || r.Stalls != 0 || r.SegmentsMismatched != 0 || r.SegmentsChecked == 0 || r.BadPieces != 0 {
			t.Errorf("%s: %d started, %d stalls, %d of %d segments mismatched, %d bad pieces",
				name, r.PeersStarted, r.Stalls, r.SegmentsMismatched, r.SegmentsChecked, r.BadPieces)
		}
	}
	if hy.Offload < 0.5 || hy.CDNMediaBytes >= cdn.CDNMediaBytes/2 {
		t.Errorf("hybrid offload %.3f, edge media %d bytes against CDN-only's %d", hy.Offload, hy.CDNMediaBytes, cdn.CDNMediaBytes)
	}
}

func TestVirtualRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{Clock: ClockVirtual, Speed: 0.5},
		{Clock: ClockVirtual, Transport: TransportWebRTC},
		{Clock: ClockVirtual, Frames: "copies"},
		{Frames: FramesIdentity},
		{Clock: "wall"},
	} {
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", cfg, err)
		}
	}
}

// TestVirtualPartitions: a virtual run splits its viewers over Cores
// partitions that run at once; every event touches one viewer and keeps
// its place in the order, so one core and three give the very same report:
// with leaves and joins (churn), lossy slow uplinks (heterogeneous) and
// seeks (vod). Under -race this is also the check that partitions share no
// state within a window.
func TestVirtualPartitions(t *testing.T) {
	for _, sc := range []string{ScenarioChurn, ScenarioHeterogeneous, ScenarioVOD} {
		t.Run(sc, func(t *testing.T) {
			cfg := Config{Scenario: sc, Peers: 24, Duration: 12 * time.Second, Seed: 3, Only: ModeHybrid}
			cfg.Cores = 1
			a, rep := virtualJSON(t, cfg)
			cfg.Cores = 3
			b, _ := virtualJSON(t, cfg)
			if !bytes.Equal(a, b) {
				t.Fatalf("1 and 3 cores gave different reports:\n%s\n%s", a, b)
			}
			if r := rep.Runs[ModeHybrid]; r.P2PBytes == 0 || r.PeersStarted == 0 {
				t.Errorf("nothing to compare: %d P2P bytes, %d viewers started", r.P2PBytes, r.PeersStarted)
			}
		})
	}
}

// TestVirtualCancelled: a virtual run stops at its next second of stream
// when its context ends (Ctrl-C, SIGTERM), without a report.
func TestVirtualCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, Config{Clock: ClockVirtual, Peers: 5, Duration: 10 * time.Second})
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("cancelled run: report %v, err %v", rep != nil, err)
	}
}
