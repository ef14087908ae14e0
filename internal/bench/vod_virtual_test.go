//go:build !race

package bench

import (
	"testing"
	"time"
)

// TestVirtualVOD: the vod scenario in virtual time is a real swarm on a
// title: viewers start where the plan put them (not all at 0), seek, share,
// play only verified origin bytes, and stall no more than CDN-only.
func TestVirtualVOD(t *testing.T) {
	cfg := Config{Scenario: ScenarioVOD, Peers: 20, Duration: 15 * time.Second, Seed: 3}
	_, rep := virtualJSON(t, cfg)
	for mode, rr := range rep.Runs {
		t.Logf("%s: offload %.1f%%, stalls %d, startup p50 %.0f ms, seeks %d (p50 %.0f ms, p95 %.0f ms), played %d, checked %d bad %d",
			mode, 100*rr.Offload, rr.Stalls, rr.StartupMsP50, rr.Seeks, rr.SeekMsP50, rr.SeekMsP95, rr.SegmentsPlayed, rr.SegmentsChecked, rr.SegmentsMismatched)
		if rr.Seeks == 0 || rr.SeekMsP50 <= 0 {
			t.Errorf("%s: %d seeks, p50 %.0f ms", mode, rr.Seeks, rr.SeekMsP50)
		}
		if rr.SegmentsMismatched != 0 || rr.SegmentsChecked == 0 || rr.PeersNotStarted != 0 {
			t.Errorf("%s: %d of %d segments differ from the origin's, %d viewers never started", mode, rr.SegmentsMismatched, rr.SegmentsChecked, rr.PeersNotStarted)
		}
		positions := map[uint64]bool{}
		for _, v := range rr.Viewers {
			positions[v.StartSeq] = true
		}
		if len(positions) < len(rr.Viewers)/2 {
			t.Errorf("%s: %d viewers started in only %d segments", mode, len(rr.Viewers), len(positions))
		}
	}
	cdn, hy := rep.Runs[ModeCDNOnly], rep.Runs[ModeHybrid]
	if hy.Stalls > cdn.Stalls {
		t.Errorf("hybrid stalled %d times, CDN-only %d", hy.Stalls, cdn.Stalls)
	}
	if hy.P2PBytes == 0 || hy.CDNMediaBytes >= cdn.CDNMediaBytes {
		t.Errorf("hybrid: %d P2P bytes, edge media %d against CDN-only %d", hy.P2PBytes, hy.CDNMediaBytes, cdn.CDNMediaBytes)
	}
}
