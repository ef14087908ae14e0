package announce

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the endpoint's series; with a nil Registerer they exist unregistered.
type metrics struct {
	announces *prometheus.CounterVec
	scrapes   prometheus.Counter
	offers    prometheus.Counter
	answers   prometheus.Counter
	failures  *prometheus.CounterVec
	dropped   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, core *Core) (*metrics, error) {
	m := &metrics{
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_webtorrent_announces_total", Help: "WebTorrent announces decoded, by event.",
		}, []string{"event"}),
		scrapes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_webtorrent_scrapes_total", Help: "WebTorrent scrapes answered.",
		}),
		offers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_webtorrent_offers_forwarded_total", Help: "WebRTC offers forwarded to another peer.",
		}),
		answers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_webtorrent_answers_forwarded_total", Help: "WebRTC answers forwarded to the offerer.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_webtorrent_failures_total", Help: "Failure replies: bad_request (not decodable), refused (ban, limits), too_large, rate_limited, addr_limit (HTTP 429: too many connections or joins from the address), timeout (no announce within PeerTimeout).",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_webtorrent_slow_consumers_total", Help: "Connections dropped because their outbound queue overflowed.",
		}),
	}
	peers := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shoal_webtorrent_peers", Help: "Members of WebTorrent swarms on this tracker.",
	}, func() float64 { p, _, _ := core.Counts(); return float64(p) })
	swarms := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shoal_webtorrent_swarms", Help: "WebTorrent swarms (info hashes) with members on this tracker.",
	}, func() float64 { _, s, _ := core.Counts(); return float64(s) })
	unanswered := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "shoal_webtorrent_answers_dropped_total", Help: "Answers not forwarded: to no offer the tracker forwarded, or to a peer gone.",
	}, func() float64 { _, _, d := core.Counts(); return float64(d) })
	if reg != nil {
		for _, c := range []prometheus.Collector{m.announces, m.scrapes, m.offers, m.answers, m.failures, m.dropped, peers, swarms, unanswered} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("announce: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
