// Package tracker is shoal's WebSocket signalling server: the frontend of the swarm
// core (internal/swarm), which keeps one swarm per (stream, rendition), introduces
// bounded neighbour sets, assigns seeding stripes, applies operator policy and bans
// peers that several distinct neighbours report for bad pieces. This package accepts
// the connections, assigns peer ids, checks viewer tokens, limits message rates and
// sizes, exports metrics and serves GET /api/streams, and delivers the core's messages.
// The wire format (internal/signalling) is specified in docs/tracker.md.
package tracker
