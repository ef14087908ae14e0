package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// EgressMetric is the edge's counter of bytes served per stream (internal/edge).
const EgressMetric = "shoal_edge_bytes_served_total"

// MaxMetricsBytes bounds one edge's /metrics body.
const MaxMetricsBytes = 8 << 20

// ErrMetrics: an edge's /metrics could not be read or parsed.
var ErrMetrics = errors.New("console: edge metrics")

// EdgeScraper reads CDN egress from the /metrics of edges in other processes and sums
// it per stream. Its zero value has no edges.
type EdgeScraper struct {
	URLs   []string     // each edge's base URL (…/metrics is appended) or full /metrics URL
	Client *http.Client // nil → a client with a 5 s timeout
}

// Egress implements Config.Egress: bytes served per stream, summed over the edges.
// An unreachable edge is an error (its bytes are unknown, not zero).
func (e EdgeScraper) Egress(ctx context.Context, _ []string) (map[string]float64, error) {
	c := e.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	out := make(map[string]float64)
	var errs []error
	for _, u := range e.URLs {
		if !strings.HasSuffix(u, "/metrics") {
			u = strings.TrimSuffix(u, "/") + "/metrics"
		}
		m, err := scrape(ctx, c, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for k, v := range m {
			out[k] += v
		}
	}
	return out, errors.Join(errs...)
}

func scrape(ctx context.Context, c *http.Client, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMetrics, u, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMetrics, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: %s", ErrMetrics, u, resp.Status)
	}
	m, err := ParseEgress(io.LimitReader(resp.Body, MaxMetricsBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMetrics, u, err)
	}
	return m, nil
}

// ParseEgress reads Prometheus text exposition and returns EgressMetric by stream.
func ParseEgress(r io.Reader) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64)
	fam := fams[EgressMetric]
	if fam == nil {
		return out, nil
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "stream" {
				out[l.GetValue()] += m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}
