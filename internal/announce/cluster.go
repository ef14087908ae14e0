package announce

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

// Cluster routes this server's announces to the owner of their info hash in a
// tracker cluster (internal/cluster), whose Core decides for the swarm, so offers
// from a client on one node reach peers on every node. The owner's messages for this
// server's connections come back through Server.Deliver, a scrape's answers too
// (one per owner of the swarms it names; a scrape of every swarm, one per node).
type Cluster interface {
	// Announce hands the announce raw (as the client sent it, already decoded once
	// and valid) for infoHash from connection id at addr to the swarm's owner.
	Announce(now time.Time, id ConnID, addr, infoHash string, raw []byte)
	// Scrape hands the scrape raw (decoded once and valid) from connection id to
	// the owners of the swarms it names, or to every node when it names none.
	Scrape(now time.Time, id ConnID, s *webtorrent.Scrape, raw []byte)
	// Close tells the owners of the swarms id announced in that it closed.
	Close(now time.Time, id ConnID)
}
