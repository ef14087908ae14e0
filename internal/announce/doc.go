// Package announce serves GET /announce: the WebTorrent WebSocket tracker protocol
// (internal/webtorrent, docs/webtorrent.md) for the players that speak it unchanged
// (p2p-media-loader, WebTorrent, PeerTube). Core is the decision core without I/O —
// membership per info hash, whom an offer goes to (by locality, under the stream's
// policy), which answers may pass, bans from the shared swarm.Store — and Server is its
// WebSocket frontend with the native tracker's limits (message size, rate, liveness,
// bounded send queues).
package announce
