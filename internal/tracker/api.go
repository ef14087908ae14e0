package tracker

import (
	"cmp"
	"context"
	"slices"

	"encoding/json"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"net/http"

	"github.com/shoal-cdn/shoal/internal/announce"
)

// StreamStats is one element of GET /api/streams.
type StreamStats struct {
	Stream    string  `json:"stream"`    // a WebTorrent swarm's is its info hash, in hex
	Rendition string  `json:"rendition"` // "" for WebTorrent swarms
	Protocol  string  `json:"protocol"`  // "shoal" (GET /tracker) or "webtorrent" (GET /announce)
	Peers     int     `json:"peers"`
	BytesCDN  uint64  `json:"bytes_cdn"`
	BytesP2P  uint64  `json:"bytes_p2p"`
	BytesUp   uint64  `json:"bytes_up"`
	Stalls    uint64  `json:"stalls"`
	Offload   float64 `json:"offload"` // bytes_p2p / (bytes_p2p + bytes_cdn); 0 with no bytes
}

// Streams returns the per-swarm aggregate served at GET /api/streams (stream "" = all).
func (t *Tracker) Streams(ctx context.Context, stream string) ([]StreamStats, error) {
	swarms := t.store.Swarms
	if t.cfg.Cluster != nil {
		swarms = t.cfg.Cluster.Swarms
	}
	all, err := swarms(ctx)
	if err != nil {
		return nil, err
	}
	all = withExtras(all, t.extras())
	out := make([]StreamStats, 0, len(all))
	for _, s := range all {
		if stream != "" && s.Swarm.Stream != stream {
			continue
		}
		st := StreamStats{
			Stream: s.Swarm.Stream, Rendition: s.Swarm.Rendition, Protocol: "shoal", Peers: s.Peers,
			BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls,
		}
		if s.Swarm.Rendition == announce.Rendition {
			st.Rendition, st.Protocol = "", "webtorrent"
		}
		if total := s.BytesCDN + s.BytesP2P; total > 0 {
			st.Offload = float64(s.BytesP2P) / float64(total)
		}
		out = append(out, st)
	}
	return out, nil
}

// withExtras adds the detached viewers (detached.go) to the core's swarm figures,
// keeping the order by stream then rendition.
func withExtras(all []swarm.SwarmStats, ex map[SwarmKey]extra) []swarm.SwarmStats {
	if len(ex) == 0 {
		return all
	}
	add := func(v uint64, d int64) uint64 { return uint64(max(0, int64(v)+d)) }
	for i := range all {
		if e, ok := ex[all[i].Swarm]; ok {
			s := &all[i]
			s.Peers += e.peers
			s.BytesCDN, s.BytesP2P = add(s.BytesCDN, e.cdn), add(s.BytesP2P, e.p2p)
			s.BytesUp, s.Stalls = add(s.BytesUp, e.up), add(s.Stalls, e.stall)
			delete(ex, all[i].Swarm)
		}
	}
	for k, e := range ex {
		all = append(all, swarm.SwarmStats{Swarm: k, Peers: e.peers, Counters: swarm.Counters{
			BytesCDN: add(0, e.cdn), BytesP2P: add(0, e.p2p), BytesUp: add(0, e.up), Stalls: add(0, e.stall)}})
	}
	slices.SortFunc(all, func(a, b swarm.SwarmStats) int {
		return cmp.Or(cmp.Compare(a.Swarm.Stream, b.Swarm.Stream), cmp.Compare(a.Swarm.Rendition, b.Swarm.Rendition))
	})
	return all
}

func (t *Tracker) serveStreams(w http.ResponseWriter, r *http.Request) {
	stream := r.URL.Query().Get("stream")
	if stream != "" && !ValidName(stream) {
		http.Error(w, "tracker: stream must match [A-Za-z0-9_-]{1,64}", http.StatusBadRequest)
		return
	}
	out, err := t.Streams(r.Context(), stream)
	if err != nil {
		t.log.Warn("tracker: api streams", "err", err)
		http.Error(w, "tracker: stats unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
