package tracker

import (
	"context"
	"time"

	"github.com/shoal-cdn/shoal/internal/announce"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// Cluster makes this tracker one node of several acting as one (internal/cluster).
// Each swarm then has one owner node whose core decides for it; the tracker sends
// its connections' joins, messages and leaves through the Cluster instead of its own
// core, and the Cluster delivers the owner's messages back through the function given
// to Start.
type Cluster interface {
	// Start joins the cluster: core decides for the swarms this node owns, deliver
	// hands messages to this tracker's connections. Called once, by New.
	Start(core *swarm.Core, deliver func([]swarm.Out)) error
	Join(now time.Time, k SwarmKey, p Peer) (Welcome, error)
	Handle(now time.Time, k SwarmKey, from string, m Message)
	Leave(now time.Time, k SwarmKey, id string)
	SetPolicy(now time.Time, stream string, p Policy)
	// Swarms is every swarm of the cluster, sorted by stream then rendition.
	Swarms(ctx context.Context) ([]swarm.SwarmStats, error)
	// Close leaves the cluster (the others take this node's swarms over).
	Close() error
}

// SharedStore is the optional part of a Cluster that offers the swarm state of every
// node as one Store (cluster.Store): the operator's API lists and lifts bans through
// it, whichever node the request reaches.
type SharedStore interface {
	SharedStore() swarm.Store
}

// WebTorrentCluster is the optional part of a Cluster that spans the WebTorrent
// swarms of GET /announce too (cluster.Node): announces go to their swarm's owner,
// whose messages come back through deliver. Called once, by New, before Start.
type WebTorrentCluster interface {
	WebTorrent(deliver func([]announce.Out)) announce.Cluster
}
