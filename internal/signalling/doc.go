// Package signalling is the tracker protocol (docs/tracker.md): every message of the
// WebSocket signalling exchange, its canonical JSON encoding and validation, and the
// client a peer uses to join a swarm. It dials but never accepts connections: the
// server side is internal/tracker, the swarm decisions internal/swarm.
package signalling
