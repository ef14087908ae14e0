package tracker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// swarmCollector exports /api/streams as metrics at scrape time: one series per swarm,
// so Prometheus sees the same figures as the API (viewer-reported, labelled so).
type swarmCollector struct {
	t                                       *Tracker
	peers, bytes, stalls, offload, p2pOnOff *prometheus.Desc
	rViewers, rRebuffer, rStartup           *prometheus.Desc
}

// maxRegionSeries bounds the regions exported per stream: regions may be declared by
// clients when the operator configured no trusted source.
const maxRegionSeries = 64

func newSwarmCollector(t *Tracker) *swarmCollector {
	sr := []string{"stream", "rendition"}
	return &swarmCollector{
		t: t,
		peers: prometheus.NewDesc("shoal_swarm_peers",
			"Viewers in the swarm (including viewers of regions with P2P off).", sr, nil),
		bytes: prometheus.NewDesc("shoal_swarm_bytes_total",
			"Bytes the swarm's viewers report: received from the CDN (source=cdn), from peers (p2p), uploaded (up). Includes viewers that left.",
			append(sr, "source"), nil),
		stalls: prometheus.NewDesc("shoal_swarm_stalls_total",
			"Playback stalls the swarm's viewers report.", sr, nil),
		offload: prometheus.NewDesc("shoal_swarm_offload_ratio",
			"bytes p2p / (p2p + cdn) since the swarm began, as in /api/streams.", sr, nil),
		p2pOnOff: prometheus.NewDesc("shoal_stream_p2p_enabled",
			"1 when the stream's policy has P2P on, 0 when the operator turned it off.", []string{"stream"}, nil),
		rViewers: prometheus.NewDesc("shoal_region_viewers",
			"Viewers of the stream connected now, by region (\"\" = unknown).", []string{"stream", "region"}, nil),
		rRebuffer: prometheus.NewDesc("shoal_region_rebuffer_ratio",
			"Time stalled / (played + stalled) of the region's current viewers, as they report it.", []string{"stream", "region"}, nil),
		rStartup: prometheus.NewDesc("shoal_region_startup_p50_seconds",
			"Median join → playback time of the region's current viewers, as they report it.", []string{"stream", "region"}, nil),
	}
}

func (c *swarmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.bytes, c.stalls, c.offload, c.p2pOnOff, c.rViewers, c.rRebuffer, c.rStartup} {
		ch <- d
	}
}

func (c *swarmCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := c.t.Streams(ctx, "")
	if err != nil {
		c.t.log.Warn("tracker: metrics", "err", err)
		return
	}
	seen := make(map[string]bool)
	for _, s := range all {
		ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(s.Peers), s.Stream, s.Rendition)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.BytesCDN), s.Stream, s.Rendition, "cdn")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.BytesP2P), s.Stream, s.Rendition, "p2p")
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.BytesUp), s.Stream, s.Rendition, "up")
		ch <- prometheus.MustNewConstMetric(c.stalls, prometheus.CounterValue, float64(s.Stalls), s.Stream, s.Rendition)
		ch <- prometheus.MustNewConstMetric(c.offload, prometheus.GaugeValue, s.Offload, s.Stream, s.Rendition)
		if !seen[s.Stream] {
			seen[s.Stream] = true
			on := 0.0
			if c.t.core.Policy(s.Stream).P2PEnabled {
				on = 1
			}
			ch <- prometheus.MustNewConstMetric(c.p2pOnOff, prometheus.GaugeValue, on, s.Stream)
			for i, r := range c.t.Regions(s.Stream) {
				if i == maxRegionSeries {
					break
				}
				ch <- prometheus.MustNewConstMetric(c.rViewers, prometheus.GaugeValue, float64(r.Viewers), s.Stream, r.Region)
				if r.Started > 0 {
					ch <- prometheus.MustNewConstMetric(c.rRebuffer, prometheus.GaugeValue, r.RebufferRatio, s.Stream, r.Region)
					ch <- prometheus.MustNewConstMetric(c.rStartup, prometheus.GaugeValue, float64(r.StartupP50Ms)/1000, s.Stream, r.Region)
				}
			}
		}
	}
}
