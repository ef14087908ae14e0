// Package prometheus holds no code: it is the Prometheus scrape config, recording and
// alert rules and Grafana dashboard of docs/metrics.md, and its test checks them with
// promtool and against the metrics the code exports.
package prometheus
