package announce

import "time"

// Cluster routes this server's announces to the owner of their info hash in a
// tracker cluster (internal/cluster), whose Core decides for the swarm, so offers
// from a client on one node reach peers on every node. The owner's messages for this
// server's connections come back through Server.Deliver. Scrapes stay local.
type Cluster interface {
	// Announce hands the announce raw (as the client sent it, already decoded once
	// and valid) for infoHash from connection id at addr to the swarm's owner.
	Announce(now time.Time, id ConnID, addr, infoHash string, raw []byte)
	// Close tells the owners of the swarms id announced in that it closed.
	Close(now time.Time, id ConnID)
}
