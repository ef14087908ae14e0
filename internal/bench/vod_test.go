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

// TestVODPlans: vod starts viewers over the whole title and seeks about once
// a minute; vod-flash starts every viewer at 0 within 3 s.
func TestVODPlans(t *testing.T) {
	vs := plan(ScenarioVOD, 200, 5*time.Minute)
	seeks, late := 0, 0
	for _, v := range vs {
		seeks += len(v.Seeks)
		if v.Start > vodTitleLen/2 {
			late++
		}
		for _, s := range v.Seeks {
			if s.At <= v.Join || s.At >= 5*time.Minute || s.To < 0 || s.To >= vodTitleLen {
				t.Fatalf("seek %+v of a viewer joining at %v", s, v.Join)
			}
		}
	}
	if seeks < 800 || seeks > 1200 || late < 70 || late > 130 {
		t.Fatalf("vod: %d seeks in 200 viewer×5 min (want ~1000), %d of 200 start in the second half", seeks, late)
	}
	for _, v := range plan(ScenarioVODFlash, 200, time.Minute) {
		if v.Start != 0 || len(v.Seeks) != 0 || v.Join >= 3*time.Second {
			t.Fatalf("vod-flash viewer %+v", v)
		}
	}
}
