package bench

import (
	"time"
)

// On-demand scenarios: one title, published whole before the run (every
// segment listed, #EXT-X-ENDLIST), watched from many positions.
const (
	// ScenarioVOD: viewers join within 2 s at uniformly random positions of
	// the title and seek at random (Poisson, vodSeekRate), upload 1.5× the
	// bitrate.
	ScenarioVOD = "vod"
	// ScenarioVODFlash: a premiere: every viewer starts at 0 within 3 s.
	ScenarioVODFlash = "vod-flash"
)

const (
	// vodTitleLen is the title's length (issue 14: a 10-minute title).
	vodTitleLen = 10 * time.Minute
	// vodSeekRate: seeks per viewer per minute.
	vodSeekRate = 1.0
)

// seekSpec is one seek of a viewer: at At (from the run's start) to
// position To of the title.
type seekSpec struct {
	At, To time.Duration
}

// isVOD reports whether scenario plays a title.
func isVOD(scenario string) bool { return scenario == ScenarioVOD || scenario == ScenarioVODFlash }

func planVOD(p planParams) []viewerSpec {
	vs := planSteady(p)
	for i := range vs {
		vs[i].Start = time.Duration(p.rng.Int64N(int64(vodTitleLen)))
		rate := vodSeekRate / time.Minute.Seconds()
		t := vs[i].Join
		for {
			t += time.Duration(p.rng.ExpFloat64() / rate * float64(time.Second))
			if t >= p.duration {
				break
			}
			vs[i].Seeks = append(vs[i].Seeks, seekSpec{At: t, To: time.Duration(p.rng.Int64N(int64(vodTitleLen)))})
		}
	}
	return vs
}

func planVODFlash(p planParams) []viewerSpec {
	vs := make([]viewerSpec, p.peers)
	for i := range vs {
		vs[i] = p.viewer(i, time.Duration(p.rng.Int64N(int64(3*time.Second))), 1.5*p.bitrate)
	}
	return vs
}

// publishTitle publishes the whole title at start (the virtual origin).
func (s *vstream) publishTitle(start time.Time) error {
	s.vod = true
	s.window = int(^uint(0) >> 1) // every segment listed
	var d time.Duration
	for d < vodTitleLen {
		if err := s.publish(start); err != nil {
			return err
		}
		d += s.segs[len(s.segs)-1].dur
	}
	return nil
}
