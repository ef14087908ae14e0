package bench

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario names.
const (
	ScenarioSteady        = "steady"
	ScenarioFlashCrowd    = "flash-crowd"
	ScenarioChurn         = "churn"
	ScenarioHeterogeneous = "heterogeneous"
)

// scenarios maps a name to the function planning its viewers.
var scenarios = map[string]func(p planParams) []viewerSpec{
	ScenarioSteady:        planSteady,
	ScenarioFlashCrowd:    planFlashCrowd,
	ScenarioChurn:         planChurn,
	ScenarioHeterogeneous: planHeterogeneous,
	ScenarioVOD:           planVOD, // vod.go
	ScenarioVODFlash:      planVODFlash,
}

// Scenarios lists the scenario names, sorted.
func Scenarios() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func scenarioNames() string { return strings.Join(Scenarios(), ", ") }

// viewerSpec is one viewer of a scenario: when it joins and leaves (relative
// to the run's start) and its access network.
type viewerSpec struct {
	Name  string
	Join  time.Duration
	Leave time.Duration // 0: stays to the end
	// Up is the access uplink in bit/s; 0 uploads nothing (NoUpload).
	Up, Down float64
	Latency  time.Duration // one way
	Loss     float64
	// On a title (vod.go): the start position and the seeks.
	Start time.Duration
	Seeks []seekSpec
}

type planParams struct {
	peers    int
	duration time.Duration
	bitrate  float64 // nominal stream bit/s
	rng      *rand.Rand
}

// downlink of every viewer: a home connection well above the bitrate.
const downlink = 50e6

func (p planParams) viewer(i int, join time.Duration, up float64) viewerSpec {
	return viewerSpec{
		Name:    "v" + strconv.Itoa(i),
		Join:    join,
		Up:      up,
		Down:    max(downlink, 4*p.bitrate),
		Latency: 5*time.Millisecond + time.Duration(p.rng.Int64N(int64(35*time.Millisecond))),
	}
}

// planSteady: everyone joins within the first 2 s and stays; upload 1.5× the
// bitrate.
func planSteady(p planParams) []viewerSpec {
	vs := make([]viewerSpec, p.peers)
	for i := range vs {
		vs[i] = p.viewer(i, time.Duration(p.rng.Int64N(int64(2*time.Second))), 1.5*p.bitrate)
	}
	return vs
}

// planFlashCrowd: a few viewers watch from the start (5%, at least one); at a
// quarter of the run the rest arrive within 3 s. Upload 1.5× the bitrate.
func planFlashCrowd(p planParams) []viewerSpec {
	early := max(1, p.peers/20)
	at := p.duration / 4
	vs := make([]viewerSpec, p.peers)
	for i := range vs {
		join := time.Duration(p.rng.Int64N(int64(time.Second)))
		if i >= early {
			join = at + time.Duration(p.rng.Int64N(int64(3*time.Second)))
		}
		vs[i] = p.viewer(i, join, 1.5*p.bitrate)
	}
	return vs
}

// churnRate is the share of viewers replaced per minute.
const churnRate = 0.30

// planChurn: steady, then 30% of the viewers per minute leave at random
// moments and a newcomer joins in each one's place at once.
func planChurn(p planParams) []viewerSpec {
	vs := planSteady(p)
	// Leaves are a Poisson process of rate churnRate·N per minute, after the
	// first 5 s (let the swarm form first).
	rate := churnRate * float64(p.peers) / time.Minute.Seconds()
	t := 5 * time.Second
	next := len(vs)
	for {
		t += time.Duration(p.rng.ExpFloat64() / rate * float64(time.Second))
		if t >= p.duration-2*time.Second {
			break
		}
		// The leaver: a random viewer present at t.
		var present []int
		for i, v := range vs {
			if v.Join < t && v.Leave == 0 {
				present = append(present, i)
			}
		}
		if len(present) == 0 {
			continue
		}
		vs[present[p.rng.IntN(len(present))]].Leave = t
		vs = append(vs, p.viewer(next, t, 1.5*p.bitrate))
		next++
	}
	return vs
}

// planHeterogeneous: like steady, but a quarter of the viewers upload nothing
// (NAT-bound), a quarter upload a quarter of the bitrate and lose 1% of their
// packets (mobile), and half upload twice the bitrate: mean upload ≈ 1.06×
// the bitrate, close to the limit where the swarm can carry everything.
func planHeterogeneous(p planParams) []viewerSpec {
	vs := planSteady(p)
	perm := p.rng.Perm(len(vs))
	for k, i := range perm {
		switch {
		case k < len(vs)/4:
			vs[i].Up = 0
		case k < len(vs)/2:
			vs[i].Up = 0.25 * p.bitrate
			vs[i].Loss = 0.01
			vs[i].Latency += 30 * time.Millisecond
		default:
			vs[i].Up = 2 * p.bitrate
		}
	}
	return vs
}

// meanUpload is the time-weighted mean uplink of the viewers over the run.
func meanUpload(vs []viewerSpec, d time.Duration) float64 {
	var sum, weight float64
	for _, v := range vs {
		end := d
		if v.Leave > 0 {
			end = v.Leave
		}
		w := max(0, (end - v.Join).Seconds())
		sum += v.Up * w
		weight += w
	}
	if weight == 0 {
		return 0
	}
	return sum / weight
}

// offloadLimit is the physical bound on offload: the CDN must carry at least
// one copy of each segment (1/N of the bytes) and whatever the viewers cannot
// upload (1 − ū/r), so offload ≤ min(1 − 1/N, ū/r).
func offloadLimit(n int, meanUp, bitrate float64) float64 {
	if n < 1 || bitrate <= 0 {
		return 0
	}
	return max(0, min(1-1/float64(n), meanUp/bitrate))
}
