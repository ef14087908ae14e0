//go:build !race

package bench

import (
	"bytes"
	"testing"
	"time"
)

// TestVirtualFramesIdentical: above vIdentityAbove viewers a virtual run
// carries piece identities instead of encoded frames and copied bytes; at
// that size both forms must give the very same report (frame sizes, timing
// and every decision are the same: only memory differs).
func TestVirtualFramesIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("two 1,000-viewer runs")
	}
	cfg := Config{Scenario: ScenarioSteady, Peers: vIdentityAbove, Duration: 8 * time.Second, Seed: 1, Only: ModeHybrid}
	cfg.Frames = FramesBytes
	a, ra := virtualJSON(t, cfg)
	cfg.Frames = FramesIdentity
	b, _ := virtualJSON(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("bytes and identity frames gave different reports at 1,000 viewers")
	}
	if r := ra.Runs[ModeHybrid]; r.P2PBytes == 0 || r.SegmentsChecked == 0 {
		t.Errorf("nothing to compare: %d P2P bytes, %d segments checked", r.P2PBytes, r.SegmentsChecked)
	}
}
