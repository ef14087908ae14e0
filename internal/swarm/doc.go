// Package swarm is the tracker's decision core, free of I/O: membership, neighbour
// choice, seeding stripes, reports, strikes and bans, and operator policy. Every event
// arrives with the time it happened and returns the messages to send (Out); the caller
// (internal/tracker's WebSocket frontend, or a simulator) delivers them. It starts no
// goroutine, reads no clock and draws randomness only from Config.Rand, so a seeded
// run is reproducible. State lives behind Store; MemStore is the in-memory one.
package swarm
