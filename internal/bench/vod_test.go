package bench

import (
	"testing"
	"time"
)

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
