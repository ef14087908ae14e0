// Package console is the operator's live page at /console: a table of streams, per
// stream a chart of CDN egress against P2P bytes/s and offload over the last minutes,
// viewers and QoE by region, and a P2P switch and upload cap that call the tracker's
// admin API (docs/admin.md). The page is static (HTML, one script, uPlot) embedded in
// the binary; the figures come from a Sampler that polls the tracker and the edges'
// counters once a second and keeps a bounded history per stream.
package console
