// Package cluster makes several tracker processes act as one, through NATS
// (docs/tracker.md "State and clustering"). Every swarm has one owner node, chosen by
// rendezvous hashing of the swarm over the nodes alive in the heartbeats; the owner's
// swarm.Core makes every decision for the swarm (membership, neighbours, stripes,
// policy, reports and bans), so there is one of each cluster-wide. The node holding a
// viewer's WebSocket forwards its messages to the owner and delivers the owner's
// messages to it. When the owner changes (a node dies, drains or joins), each node
// restores its own viewers of the swarm on the new owner with the neighbours and
// stripes it last told them (swarm.Core.Restore), so links and seeders survive.
package cluster
