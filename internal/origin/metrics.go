package origin

import "github.com/prometheus/client_golang/prometheus"

// Rejection reasons, the values of shoal_origin_ingest_rejected_total{reason}.
const (
	reasonAuth      = "auth"
	reasonName      = "name"
	reasonSize      = "size"
	reasonPlaylist  = "playlist"
	reasonSegment   = "segment"
	reasonLimit     = "limit"
	reasonReserved  = "reserved"
	reasonMethod    = "method"
	reasonBody      = "body"
	reasonRendition = "rendition"
	reasonTitle     = "title"
	reasonStore     = "store"
)

type metrics struct {
	ingestBytes *prometheus.CounterVec
	published   *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	streams     prometheus.Gauge
	titles      prometheus.Gauge
}

// newMetrics builds the collectors; they work unregistered, so a nil Registerer only
// means nobody scrapes them.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ingestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_origin_ingest_bytes_total",
			Help: "Bytes of accepted ingest bodies (playlists, segments, init sections), by stream.",
		}, []string{"stream"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_origin_segments_published_total",
			Help: "Segments published (ingest, pull relay and demo), by stream.",
		}, []string{"stream"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_origin_ingest_rejected_total",
			Help: "Ingest requests rejected, by reason.",
		}, []string{"reason"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_origin_streams",
			Help: "Streams currently held by the origin.",
		}),
		titles: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_origin_titles",
			Help: "On-demand titles served (stored VOD pushes, replays, --vod-dir titles).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.ingestBytes, m.published, m.rejected, m.streams, m.titles} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// forget drops a removed stream's series so label cardinality stays bounded by
// MaxStreams.
func (m *metrics) forget(stream string) {
	m.ingestBytes.DeleteLabelValues(stream)
	m.published.DeleteLabelValues(stream)
}
