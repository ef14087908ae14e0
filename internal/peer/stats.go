package peer

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/player"
	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Stats are a peer's figures since Run started.
type Stats struct {
	PeerID string `json:"peer_id"` // current tracker id ("" without a session)
	// BytesCDN is every body byte read from the edge: segments (BytesCDNMedia)
	// plus playlists, records, the key and init sections. It is what the edge's
	// own bytes-served counter sees of this peer.
	BytesCDN      int64 `json:"bytes_cdn"`
	BytesCDNMedia int64 `json:"bytes_cdn_media"`
	// BytesP2P counts unique verified piece bytes received from neighbours.
	BytesP2P int64 `json:"bytes_p2p"`
	// BytesUp counts piece bytes sent to neighbours.
	BytesUp int64 `json:"bytes_up"`
	// BytesDup counts piece bytes received while we already held the piece
	// and still had the request open: two sources raced (a neighbour and the
	// edge at the handover, or two neighbours).
	BytesDup int64 `json:"bytes_dup"`
	// BytesWasted counts piece bytes (from neighbours or the edge) that arrived
	// after they were no longer needed: the request was cancelled, timed out
	// or voided, or the segment had left our window (unverifiable: dropped).
	BytesWasted int64 `json:"bytes_wasted"`
	// BadPieces counts pieces that failed verification (from anyone).
	BadPieces int64 `json:"bad_pieces"`
	// Plans counts the scheduler's plans (engine.Stats.Plans).
	Plans      int64 `json:"plans"`
	Neighbours int   `json:"neighbours"`
	// Complete is the number of complete segments held in the window.
	Complete int `json:"complete"`
	// Player is the player model's measurement (stalls, latency, startup).
	Player player.Stats `json:"player"`
	// Latencies are the player model's live-latency samples (oldest first).
	Latencies []time.Duration `json:"-"`
	// SeekTimes are the player model's seek times on a title (oldest first).
	SeekTimes []time.Duration `json:"-"`
	// EdgePieces counts pieces requested from the edge by reason, indexed
	// by EdgeP2POff, EdgeUrgent, EdgeSeed and EdgeFallback.
	EdgePieces [4]int `json:"edge_pieces"`
	// Offload is BytesP2P / (BytesP2P + BytesCDNMedia).
	Offload float64 `json:"offload"`
	// On a title: segment bytes kept for neighbours (within VOD.KeepBytes), and the
	// playhead's media position.
	VOD      bool          `json:"vod,omitempty"`
	VODHeld  int64         `json:"vod_held_bytes,omitempty"`
	Position time.Duration `json:"position_ns,omitempty"`
}

// Stats returns the figures as of the last loop iteration.
func (p *Peer) Stats() Stats {
	p.mu.Lock()
	st := p.snap
	p.mu.Unlock()
	st.setCDN(p.cdn.media.Load(), p.cdn.overhead.Load())
	return st
}

// StatsOf is the core's figures in Stats form, without the CDN bytes (the
// shell's: see setCDN) and latency samples.
func StatsOf(cs engine.Stats, peerID string) Stats {
	return Stats{PeerID: peerID, BytesP2P: cs.BytesP2P, BytesUp: cs.BytesUp, BytesDup: cs.BytesDup,
		BytesWasted: cs.BytesWasted, BadPieces: cs.BadPieces, Neighbours: cs.Neighbours, Plans: cs.Plans,
		Complete: cs.Complete, Player: cs.Player, EdgePieces: cs.EdgePieces, VOD: cs.VOD, VODHeld: cs.VODHeld, Position: cs.Position}
}

// WithCDN returns st with the bytes read from the edge (media, and
// playlists, records, key, init sections) and the offload they give.
func (st Stats) WithCDN(media, overhead int64) Stats {
	st.setCDN(media, overhead)
	return st
}

func (st *Stats) setCDN(media, overhead int64) {
	st.BytesCDNMedia, st.BytesCDN = media, media+overhead
	if t := st.BytesP2P + st.BytesCDNMedia; t > 0 {
		st.Offload = float64(st.BytesP2P) / float64(t)
	}
}

// publishSnapshot copies the core's figures for Stats.
func (p *Peer) publishSnapshot() {
	st := StatsOf(p.core.Stats(), p.core.SelfID())
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := st.Player
	st.Latencies, st.SeekTimes = p.snap.Latencies, p.snap.SeekTimes
	if ps.Played != p.snap.Player.Played || ps.Stalls != p.snap.Player.Stalls || ps.Started != p.snap.Player.Started {
		st.Latencies = p.core.LatencySamples()
	}
	if ps.Seeks != p.snap.Player.Seeks || ps.SeekSum != p.snap.Player.SeekSum {
		st.SeekTimes = p.core.SeekSamples()
	}
	p.snap = st
}

// trackerStats is the stats message for the tracker.
func (p *Peer) trackerStats() signalling.Stats { return TrackerStats(p.Stats()) }

// TrackerStats is a viewer's stats message for the tracker: everything read
// from the edge counts as CDN bytes, so the swarm's totals match the edge's
// counter.
func TrackerStats(st Stats) signalling.Stats {
	var playhead float64
	if st.Player.Started {
		playhead = st.Player.Watched.Seconds() - st.Player.Stalled.Seconds()
	}
	out := signalling.Stats{
		BytesCDN: uint64(st.BytesCDN), BytesP2P: uint64(st.BytesP2P), BytesUp: uint64(st.BytesUp),
		Stalls: uint64(st.Player.Stalls), Playhead: max(0, playhead), Peers: st.Neighbours,
	}
	if st.VOD {
		pos := st.Position.Seconds()
		out.Position = &pos // after a seek, the tracker finds us neighbours near it
	}
	if st.Player.Started {
		out.StartupMs = uint64(max(1, st.Player.Startup.Milliseconds()))
		out.StalledMs = uint64(max(0, st.Player.Stalled.Milliseconds()))
	}
	return out
}

// registerMetrics exports Stats to Prometheus (reg nil: nothing).
func registerMetrics(reg prometheus.Registerer, p *Peer) error {
	if reg == nil {
		return nil
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	bytesBy := func(source string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "shoal_peer_bytes_total", Help: "Bytes received or sent by source.",
			ConstLabels: prometheus.Labels{"source": source}}, func() float64 { return float64(f()) })
	}
	cs := []prometheus.Collector{
		bytesBy("cdn", func() int64 { return p.cdn.media.Load() + p.cdn.overhead.Load() }),
		bytesBy("p2p", func() int64 { return p.Stats().BytesP2P }),
		bytesBy("up", func() int64 { return p.Stats().BytesUp }),
		bytesBy("dup", func() int64 { return p.Stats().BytesDup }),
		bytesBy("wasted", func() int64 { return p.Stats().BytesWasted }),
		counter("shoal_peer_bad_pieces_total", "Pieces that failed verification.", func() float64 { return float64(p.Stats().BadPieces) }),
		counter("shoal_peer_stalls_total", "Stalls of the player model.", func() float64 { return float64(p.Stats().Player.Stalls) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shoal_peer_neighbours", Help: "Connected neighbours."},
			func() float64 { return float64(p.Stats().Neighbours) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("peer: metrics: %w", err)
		}
	}
	return nil
}
