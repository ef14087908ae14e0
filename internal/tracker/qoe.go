package tracker

import (
	"cmp"
	"slices"
)

// RegionStats is one element of GET /api/streams/{stream}/regions: the viewers of a
// stream connected now, grouped by region, with the figures they report themselves
// (stats messages), not measured by the CDN.
type RegionStats struct {
	Region     string `json:"region"` // "" = unknown
	Viewers    int    `json:"viewers"`
	P2PEnabled bool   `json:"p2p_enabled"` // the policy this region's viewers have now
	MaxUpload  int64  `json:"max_upload"`
	// Cumulative since each current viewer joined.
	BytesCDN uint64  `json:"bytes_cdn"`
	BytesP2P uint64  `json:"bytes_p2p"`
	Offload  float64 `json:"offload"`
	Stalls   uint64  `json:"stalls"`
	// RebufferRatio is time stalled / (time played + time stalled), over the viewers
	// that started playing; StartupP50Ms the median join → playback time among them.
	RebufferRatio float64 `json:"rebuffer_ratio"`
	StartupP50Ms  uint64  `json:"startup_p50_ms"`
	Started       int     `json:"started"` // viewers that report playback began
}

// Regions returns the stream's current viewers by region, sorted by region.
func (t *Tracker) Regions(stream string) []RegionStats {
	type acc struct {
		RegionStats
		playedMs, stalledMs float64
		startups            []uint64
	}
	by := make(map[string]*acc)
	for _, cs := range t.streamConns(stream) {
		for _, c := range cs {
			c.qmu.Lock()
			last := c.last
			c.qmu.Unlock()
			a := by[c.peer.Region]
			if a == nil {
				a = &acc{RegionStats: RegionStats{Region: c.peer.Region}}
				by[c.peer.Region] = a
			}
			a.Viewers++
			a.BytesCDN += last.BytesCDN
			a.BytesP2P += last.BytesP2P
			a.Stalls += last.Stalls
			if last.StartupMs > 0 {
				a.Started++
				a.startups = append(a.startups, last.StartupMs)
				a.playedMs += last.Playhead * 1000
				a.stalledMs += float64(last.StalledMs)
			}
		}
	}
	core := t.core.Policy(stream)
	out := make([]RegionStats, 0, len(by))
	for _, a := range by {
		r := a.RegionStats
		p, _ := t.regionPolicy(stream, r.Region, core)
		r.P2PEnabled, r.MaxUpload = p.P2PEnabled, p.MaxUpload
		if tot := r.BytesCDN + r.BytesP2P; tot > 0 {
			r.Offload = float64(r.BytesP2P) / float64(tot)
		}
		if w := a.playedMs + a.stalledMs; w > 0 {
			r.RebufferRatio = a.stalledMs / w
		}
		if n := len(a.startups); n > 0 {
			slices.Sort(a.startups)
			r.StartupP50Ms = a.startups[(n-1)/2]
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RegionStats) int { return cmp.Compare(a.Region, b.Region) })
	return out
}
