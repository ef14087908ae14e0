package edge

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// maxStreamLabels bounds the streams tracked one by one (metric labels and BytesServed).
// A stream becomes tracked on its first 200 from the origin, so made-up names in request
// paths cannot grow the set; streams beyond the bound are summed under otherStream.
const (
	maxStreamLabels = 1024
	otherStream     = "_other"
)

// metrics holds the Prometheus collectors and the exact per-stream byte counters. The
// collectors exist even without a Registerer, they are simply not exported then.
type metrics struct {
	originFetches *prometheus.CounterVec // stream, kind
	bytesServed   *prometheus.CounterVec // stream
	hits, misses  [numKinds]prometheus.Counter
	stale         [numKinds]prometheus.Counter
	requests      *prometheus.CounterVec     // code
	codes         map[int]prometheus.Counter // pre-resolved common codes, read-only

	mu      sync.Mutex // serialises admission to streams
	streams sync.Map   // string → *streamStats
	nstream atomic.Int32
	other   *streamStats
	total   atomic.Int64
}

type streamStats struct {
	served  atomic.Int64
	bytes   prometheus.Counter
	fetches [numKinds]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, cacheBytes func() float64) (*metrics, error) {
	m := &metrics{
		originFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_edge_origin_fetches_total",
			Help: "Requests sent to the origin, by stream and object kind.",
		}, []string{"stream", "kind"}),
		bytesServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_edge_bytes_served_total",
			Help: "Object body bytes written to clients (200 and 206), by stream.",
		}, []string{"stream"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_edge_requests_total",
			Help: "Requests answered by the edge, by status code (499: client went away).",
		}, []string{"code"}),
	}
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_edge_cache_hits_total",
		Help: "Requests answered from a fresh cache entry, by object kind.",
	}, []string{"kind"})
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_edge_cache_misses_total",
		Help: "Requests that waited for an origin fetch (their own or a coalesced one), by object kind.",
	}, []string{"kind"})
	stale := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_edge_stale_served_total",
		Help: "Origin failures answered with a stale playlist or key (stale-if-error), by object kind.",
	}, []string{"kind"})
	for k := range numKinds {
		m.hits[k] = hits.WithLabelValues(k.String())
		m.misses[k] = misses.WithLabelValues(k.String())
		m.stale[k] = stale.WithLabelValues(k.String())
	}
	m.codes = make(map[int]prometheus.Counter)
	for _, c := range []int{200, 204, 206, 304, 400, 403, 404, 405, 416, 499, 502, 504} {
		m.codes[c] = m.requests.WithLabelValues(strconv.Itoa(c))
	}
	m.other = m.newStreamStats(otherStream)
	if reg == nil {
		return m, nil
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shoal_edge_cache_bytes",
		Help: "Weighted bytes held by the edge's object cache.",
	}, cacheBytes)
	for _, c := range []prometheus.Collector{m.originFetches, m.bytesServed, hits, misses, stale, m.requests, gauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("edge: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) newStreamStats(stream string) *streamStats {
	s := &streamStats{bytes: m.bytesServed.WithLabelValues(stream)}
	for k := range numKinds {
		s.fetches[k] = m.originFetches.WithLabelValues(stream, k.String())
	}
	return s
}

// stream returns the stats of a stream, admitting it if admit and there is room.
func (m *metrics) stream(name string, admit bool) *streamStats {
	if s, ok := m.streams.Load(name); ok {
		return s.(*streamStats)
	}
	if !admit {
		return m.other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.streams.Load(name); ok {
		return s.(*streamStats)
	}
	if m.nstream.Load() >= maxStreamLabels {
		return m.other
	}
	s := m.newStreamStats(name)
	m.streams.Store(name, s)
	m.nstream.Add(1)
	return s
}

func (m *metrics) originFetch(t target, ok bool) {
	m.stream(t.stream, ok).fetches[t.kind].Inc()
}

func (m *metrics) served(stream string, n int64) {
	if n <= 0 {
		return
	}
	s := m.stream(stream, true)
	s.served.Add(n)
	s.bytes.Add(float64(n))
	m.total.Add(n)
}

func (m *metrics) cache(k kind, hit bool) {
	if hit {
		m.hits[k].Inc()
	} else {
		m.misses[k].Inc()
	}
}

func (m *metrics) staleServed(k kind) { m.stale[k].Inc() }

func (m *metrics) request(code int) {
	if c, ok := m.codes[code]; ok {
		c.Inc()
		return
	}
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}
