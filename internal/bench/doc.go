// Package bench measures what the swarm saves: it runs an origin, an edge, a
// tracker and N viewers of the real peer engine (internal/peer) in one process,
// once with P2P switched off by tracker policy (CDN-only) and once hybrid, on
// the same scenario, and reports both side by side (text, JSON, plot).
//
// CDN bytes come from the edge's own counter (edge.BytesServed), split into
// media and overhead by a counting wrapper around the edge's handler and
// checked against it. Startup, stalls and latency come from the shared player
// model (internal/player) inside each peer. Viewers reach each other over the
// emulated network of internal/transport/emulated (per-viewer bandwidth,
// latency, loss, queueing) or over real pion WebRTC on loopback.
//
// One transport.Clock per invocation (Config.Speed) drives the origin, the edge, the
// emulated links, every engine, the shaped HTTP path and the bench's own schedule,
// samples and figures: every duration of a report is stream time. What runs in real
// time regardless: the tracker, the HTTP clients' timeouts and the loopback sockets.
package bench
