package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	nodes     prometheus.Gauge
	owned     prometheus.Gauge
	restores  prometheus.Counter
	takeovers prometheus.Counter
	forwarded *prometheus.CounterVec
	failures  *prometheus.CounterVec
	ownerWait prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "shoal_tracker_cluster_nodes",
			Help: "Tracker nodes alive in this node's view of the cluster."}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "shoal_tracker_cluster_owned_swarms",
			Help: "Swarms with members that this node owns (decides for)."}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{Name: "shoal_tracker_cluster_restores_total",
			Help: "Swarms whose local members this node restored on a new owner."}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "shoal_tracker_cluster_settles_total",
			Help: "Swarms this node settled after taking them over."}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoal_tracker_cluster_messages_total",
			Help: "Cluster messages sent, by kind (request op, delivery)."}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shoal_tracker_cluster_failures_total",
			Help: "Cluster messages that could not be sent or were refused, by kind."}, []string{"kind"}),
		ownerWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shoal_tracker_cluster_owner_wait_seconds",
			Help:    "Time a request to this node as a swarm's owner waited in its shard's queue before it ran.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.nodes, m.owned, m.restores, m.takeovers, m.forwarded, m.failures, m.ownerWait} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
