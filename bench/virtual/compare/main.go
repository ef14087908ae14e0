// Command compare prints the validation table of the virtual-time bench: for
// each scenario and audience, the virtual runs' figures beside the real-time
// runs' (mean, min–max over seeds), from the JSON files bench/virtual/run.sh
// wrote (virtual-SCENARIO-N-SEED.json, real-SCENARIO-N-SEED.json).
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type run struct {
	Offload float64 `json:"offload"`
	Copies  float64 `json:"cdn_copies_per_segment"`
	Stalls  int     `json:"stalls"`
	Startup float64 `json:"startup_ms_p50"`
	Latency float64 `json:"latency_ms_p50"`
}

type report struct {
	Speed float64        `json:"speed"`
	Runs  map[string]run `json:"runs"`
}

type key struct {
	scenario string
	peers    string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compare DIR")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*.json"))
	runs := map[key]map[string][]run{} // key → clock → seeds
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".json"), "-")
		if len(parts) < 4 {
			continue
		}
		clock, peers := parts[0], parts[len(parts)-2]
		scenario := strings.Join(parts[1:len(parts)-2], "-")
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintln(os.Stderr, f, err)
			os.Exit(1)
		}
		h, ok := r.Runs["hybrid"]
		if !ok {
			continue
		}
		k := key{scenario, peers}
		if runs[k] == nil {
			runs[k] = map[string][]run{}
		}
		runs[k][clock] = append(runs[k][clock], h)
	}
	keys := make([]key, 0, len(runs))
	for k := range runs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.scenario, b.scenario); c != 0 {
			return c
		}
		return len(a.peers) - len(b.peers)
	})
	fmt.Println("| scenario | viewers | offload virtual (min–max) | offload real (min–max) | Δ mean | copies/segment virtual / real | Δ | stalls virtual / real | startup p50 ms v / r | latency p50 s v / r | within |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, k := range keys {
		v, r := runs[k]["virtual"], runs[k]["real"]
		if len(v) == 0 || len(r) == 0 {
			continue
		}
		get := func(rs []run, f func(run) float64) (mean, lo, hi float64) {
			lo, hi = math.Inf(1), math.Inf(-1)
			for _, x := range rs {
				y := f(x)
				mean += y
				lo, hi = min(lo, y), max(hi, y)
			}
			return mean / float64(len(rs)), lo, hi
		}
		off := func(x run) float64 { return 100 * x.Offload }
		vo, vlo, vhi := get(v, off)
		ro, rlo, rhi := get(r, off)
		vc, _, _ := get(v, func(x run) float64 { return x.Copies })
		rc, _, _ := get(r, func(x run) float64 { return x.Copies })
		vs, _, _ := get(v, func(x run) float64 { return float64(x.Stalls) })
		rs, _, _ := get(r, func(x run) float64 { return float64(x.Stalls) })
		vst, _, _ := get(v, func(x run) float64 { return x.Startup })
		rst, _, _ := get(r, func(x run) float64 { return x.Startup })
		vl, _, _ := get(v, func(x run) float64 { return x.Latency / 1000 })
		rl, _, _ := get(r, func(x run) float64 { return x.Latency / 1000 })
		// The bounds: mean offload within 3 points, each virtual
		// figure inside the real runs' range or within 3 points of it,
		// copies within 25%, stalls both 0 or within 2.
		ok := math.Abs(vo-ro) <= 3
		for _, x := range v {
			o := off(x)
			ok = ok && o >= rlo-3 && o <= rhi+3
		}
		ok = ok && math.Abs(vc-rc) <= 0.25*rc
		ok = ok && math.Abs(vs-rs) <= 2
		verdict := "yes"
		if !ok {
			verdict = "**no**"
		}
		fmt.Printf("| %s | %s | %.1f%% (%.1f–%.1f) | %.1f%% (%.1f–%.1f) | %+.1f | %.2f / %.2f | %+.0f%% | %.1f / %.1f | %.0f / %.0f | %.2f / %.2f | %s |\n",
			k.scenario, k.peers, vo, vlo, vhi, ro, rlo, rhi, vo-ro, vc, rc, 100*(vc-rc)/rc, vs, rs, vst, rst, vl, rl, verdict)
	}
}
