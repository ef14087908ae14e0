// Package tracker is shoal's WebSocket signalling server: it keeps one swarm per
// (stream, rendition), assigns peer ids, introduces bounded neighbour sets chosen by
// locality and upload capacity, relays WebRTC offers/answers/ICE candidates only between
// peers it introduced, ingests per-peer stats, pushes operator policy and bans peers that
// several distinct neighbours report for bad pieces. The wire format is specified in
// docs/tracker.md; state lives behind the Store interface so a clustered store can
// replace the in-memory one.
package tracker
