package tracker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the tracker's Prometheus series. With a nil Registerer they are created
// but never registered, so the code needs no nil checks.
type metrics struct {
	peers   *prometheus.GaugeVec
	swarms  prometheus.Gauge
	joins   prometheus.Counter
	relayed prometheus.Counter
	bans    prometheus.Counter
	reports *prometheus.CounterVec
	errors  *prometheus.CounterVec
	dropped prometheus.Counter
	stripes prometheus.Counter
	demoted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoal_tracker_peers", Help: "Peers connected to this tracker, by stream.",
		}, []string{"stream"}),
		swarms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_tracker_swarms", Help: "Swarms with at least one peer on this tracker.",
		}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_joins_total", Help: "Successful joins.",
		}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_signals_relayed_total", Help: "Signal messages relayed between neighbours.",
		}),
		bans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_bans_total", Help: "Peers banned after corroborated bad-piece reports.",
		}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_tracker_reports_total", Help: "Bad-piece reports by outcome (accepted, ban, muted, not_neighbour, unknown_peer).",
		}, []string{"outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_tracker_errors_total", Help: "Error messages sent to peers, by code.",
		}, []string{"code"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_slow_consumers_total", Help: "Connections dropped because their outbound queue overflowed.",
		}),
		stripes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_stripe_changes_total", Help: "Stripe messages sent (a peer's seeding assignment changed after it joined).",
		}),
		demoted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_tracker_seeders_demoted_total", Help: "Seeders that lost their stripe for showing no upload (docs/abuse.md).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.peers, m.swarms, m.joins, m.relayed, m.bans, m.reports, m.errors, m.dropped, m.stripes, m.demoted} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("tracker: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
