package tracker

import (
	"context"
	"encoding/json"
	"net/http"
)

// StreamStats is one element of GET /api/streams.
type StreamStats struct {
	Stream    string  `json:"stream"`
	Rendition string  `json:"rendition"`
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
	out := make([]StreamStats, 0, len(all))
	for _, s := range all {
		if stream != "" && s.Swarm.Stream != stream {
			continue
		}
		st := StreamStats{
			Stream: s.Swarm.Stream, Rendition: s.Swarm.Rendition, Peers: s.Peers,
			BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls,
		}
		if total := s.BytesCDN + s.BytesP2P; total > 0 {
			st.Offload = float64(s.BytesP2P) / float64(total)
		}
		out = append(out, st)
	}
	return out, nil
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
