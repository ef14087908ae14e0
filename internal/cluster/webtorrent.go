package cluster

import (
	"maps"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/announce"
	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

// WebTorrent swarms (GET /announce) span the cluster as native ones do: the owner of
// a swarm (rendezvous hashing of announce.Key) runs its announce.Core; the node
// holding a client's WebSocket forwards the client's announces to it, and the owner
// sends its replies, forwarded offers and answers to the nodes holding their
// addressees. The owner knows a connection as (holding node, its connection id),
// mapped to an id of its own core.

// maxHeldSwarms bounds the swarms a holder remembers per connection (so it can tell
// their owners when it closes); the owner's core refuses above its own limit (16).
const maxHeldSwarms = 64

type wtConnKey struct {
	node string
	conn announce.ConnID
}

// wtHolder is announce.Cluster for this node's /announce connections.
type wtHolder struct{ n *Node }

// WebTorrent returns the announce.Cluster of this node's /announce endpoint; deliver
// writes the owners' messages to its connections (announce.Server.Deliver). Call it
// before Start.
func (n *Node) WebTorrent(deliver func([]announce.Out)) announce.Cluster {
	n.wtDeliver = deliver
	return wtHolder{n}
}

// wtAnnounced is what a holder keeps of a connection's membership of one swarm: its
// owner when last announced to, and the announce that makes it a member again (the
// client's last one, without offers, answer or event), for a new owner after a
// change of view: the member is restored at once, not at its next announce (120 s).
type wtAnnounced struct {
	owner string
	addr  string
	again []byte
}

// Announce implements announce.Cluster.
func (h wtHolder) Announce(now time.Time, id announce.ConnID, addr, infoHash string, raw []byte) {
	n := h.n
	k := announce.Key(infoHash)
	again := rejoin(raw)
	n.mu.Lock()
	owner := n.ownerOfLocked(k)
	held := n.wtHeld[id]
	if held == nil {
		held = make(map[string]*wtAnnounced)
		n.wtHeld[id] = held
	}
	switch a := held[k.Stream]; {
	case a != nil:
		a.owner, a.addr = owner, addr
		if again != nil {
			a.again = again
		}
	case len(held) < maxHeldSwarms:
		held[k.Stream] = &wtAnnounced{owner: owner, addr: addr, again: again}
	}
	n.mu.Unlock()
	n.publish(owner, &clusterwire.Request{Op: clusterwire.OpWTAnnounce, Node: n.cfg.Name,
		Stream: k.Stream, Rendition: clusterwire.WebTorrentRendition, Conn: uint64(id), Addr: addr, Msg: raw})
}

// rejoin returns the announce that re-registers the sender of raw as a member of its
// swarm, nil for one that does not (a stop, or not an announce).
func rejoin(raw []byte) []byte {
	m, err := webtorrent.DecodeRequest(raw)
	a, ok := m.(*webtorrent.Announce)
	if err != nil || !ok || a.Event == webtorrent.EventStopped {
		return nil
	}
	left := a.Left
	if a.Complete && left == nil {
		zero := 0.0
		left = &zero // null, false or "": complete, as the owner saw it
	}
	b, err := webtorrent.Encode(&webtorrent.Announce{InfoHash: a.InfoHash, PeerID: a.PeerID, Left: left})
	if err != nil {
		return nil
	}
	return b
}

// wtReannounce sends, for each swarm a connection of this node is in whose owner
// changed in the current view, the connection's rejoin announce to the new owner.
func (n *Node) wtReannounce() {
	type send struct {
		owner, stream, addr string
		conn                announce.ConnID
		again               []byte
	}
	var sends []send
	n.mu.Lock()
	for id, held := range n.wtHeld {
		for stream, a := range held {
			o := n.ownerOfLocked(swarm.SwarmKey{Stream: stream, Rendition: announce.Rendition})
			if o == a.owner || a.again == nil {
				continue
			}
			a.owner = o
			sends = append(sends, send{o, stream, a.addr, id, a.again})
		}
	}
	n.mu.Unlock()
	for _, s := range sends {
		n.publish(s.owner, &clusterwire.Request{Op: clusterwire.OpWTAnnounce, Node: n.cfg.Name,
			Stream: s.stream, Rendition: clusterwire.WebTorrentRendition, Conn: uint64(s.conn), Addr: s.addr, Msg: s.again})
	}
	if len(sends) > 0 {
		n.log.Info("cluster: WebTorrent members restored on their swarms' new owners", "announces", len(sends))
	}
}

// Scrape implements announce.Cluster: the scrape goes to each owner of a swarm it
// names (each answers for its own), or to every node when it names none.
func (h wtHolder) Scrape(now time.Time, id announce.ConnID, s *webtorrent.Scrape, raw []byte) {
	n := h.n
	n.mu.Lock()
	var owners []string
	if s.InfoHashes == nil {
		owners = slices.Clone(n.view)
	}
	for _, ih := range s.InfoHashes {
		if o := n.ownerOfLocked(announce.Key(ih)); !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	n.mu.Unlock()
	for _, owner := range owners {
		n.publish(owner, &clusterwire.Request{Op: clusterwire.OpWTScrape, Node: n.cfg.Name,
			Stream: owner, Rendition: clusterwire.WebTorrentRendition, Conn: uint64(id), Msg: raw})
	}
}

// scrapeLocked answers a forwarded scrape for the swarms this node owns in its
// view: nothing when it owns none of those named (another owner answers them).
func (n *Node) scrapeLocked(r *clusterwire.Request, rt *router) {
	m, err := webtorrent.DecodeRequest(r.Msg)
	sc, ok := m.(*webtorrent.Scrape)
	if err != nil || !ok {
		n.m.failures.WithLabelValues("decode").Inc()
		return
	}
	view := n.Nodes()
	mine := func(ih string) bool { return OwnerOf(view, announce.Key(ih)) == n.cfg.Name }
	ask := &webtorrent.Scrape{}
	if sc.InfoHashes != nil {
		ask.InfoHashes = slices.DeleteFunc(slices.Clone(sc.InfoHashes), func(ih string) bool { return !mine(ih) })
		if len(ask.InfoHashes) == 0 {
			return
		}
	}
	for _, o := range n.wtCore.Scrape(0, ask) {
		rep, ok := o.Msg.(*webtorrent.ScrapeReply)
		if !ok {
			continue
		}
		rep.Files = slices.DeleteFunc(rep.Files, func(f webtorrent.ScrapeFile) bool { return !mine(f.InfoHash) })
		if len(rep.Files) == 0 && r.Node != n.cfg.Name {
			continue // a scrape of every swarm: the holder's own node answers even when empty
		}
		raw, err := webtorrent.Encode(rep)
		if err != nil {
			continue
		}
		rt.queue(r.Node, clusterwire.Out{Stream: r.Stream, Rendition: clusterwire.WebTorrentRendition, Conn: r.Conn, Msg: raw})
	}
}

// Close implements announce.Cluster: each owner of a swarm id announced in is told.
func (h wtHolder) Close(now time.Time, id announce.ConnID) {
	n := h.n
	n.mu.Lock()
	held := n.wtHeld[id]
	delete(n.wtHeld, id)
	owners := make(map[string]string) // owner → one of its swarms (the request's key)
	for _, s := range slices.Sorted(maps.Keys(held)) {
		o := n.ownerOfLocked(swarm.SwarmKey{Stream: s, Rendition: announce.Rendition})
		if _, ok := owners[o]; !ok {
			owners[o] = s
		}
	}
	n.mu.Unlock()
	for owner, s := range owners {
		n.publish(owner, &clusterwire.Request{Op: clusterwire.OpWTClose, Node: n.cfg.Name,
			Stream: s, Rendition: clusterwire.WebTorrentRendition, Conn: uint64(id)})
	}
}

// wtLocal returns the owner core's id of connection (node, conn), opening it there
// the first time.
func (n *Node) wtLocal(node string, conn uint64, addr string) announce.ConnID {
	key := wtConnKey{node, announce.ConnID(conn)}
	n.wtMu.Lock()
	defer n.wtMu.Unlock()
	if id, ok := n.wtIDs[key]; ok {
		return id
	}
	n.wtNext++
	id := n.wtNext
	n.wtIDs[key], n.wtRev[id] = id, key
	n.wtCore.Open(id, addr)
	return id
}

// wtForget closes connection (node, conn) in the owner core.
func (n *Node) wtForget(now time.Time, node string, conn uint64) {
	key := wtConnKey{node, announce.ConnID(conn)}
	n.wtMu.Lock()
	id, ok := n.wtIDs[key]
	delete(n.wtIDs, key)
	delete(n.wtRev, id)
	n.wtMu.Unlock()
	if ok {
		n.wtCore.Close(now, id)
	}
}

// wtDropNodes closes, in the owner core, the connections of nodes not in view.
func (n *Node) wtDropNodes(now time.Time, view []string) {
	n.wtMu.Lock()
	var gone []wtConnKey
	for key := range n.wtIDs {
		if !slices.Contains(view, key.node) {
			gone = append(gone, key)
		}
	}
	n.wtMu.Unlock()
	for _, key := range gone {
		n.wtForget(now, key.node, uint64(key.conn))
	}
}

// runWTLocked runs a WebTorrent request as the owner of its swarm.
func (n *Node) runWTLocked(now time.Time, r *clusterwire.Request, rt *router) {
	switch r.Op {
	case clusterwire.OpWTClose:
		n.wtForget(now, r.Node, r.Conn)
	case clusterwire.OpWTScrape:
		n.scrapeLocked(r, rt)
	case clusterwire.OpWTAnnounce:
		m, err := webtorrent.DecodeRequest(r.Msg)
		a, ok := m.(*webtorrent.Announce)
		if err != nil || !ok || webtorrent.Hex(a.InfoHash) != r.Stream {
			n.m.failures.WithLabelValues("decode").Inc()
			return
		}
		outs := n.wtCore.Announce(now, n.wtLocal(r.Node, r.Conn, r.Addr), a)
		rt.addWT(r.Stream, outs)
	}
}

// addWT queues an owner core's messages for the nodes holding their connections.
func (r *router) addWT(stream string, outs []announce.Out) {
	n := r.n
	for _, o := range outs {
		n.wtMu.Lock()
		key, ok := n.wtRev[o.To]
		n.wtMu.Unlock()
		if !ok {
			continue
		}
		raw, err := webtorrent.Encode(o.Msg)
		if err != nil {
			continue
		}
		r.queue(key.node, clusterwire.Out{Stream: stream, Rendition: clusterwire.WebTorrentRendition, Conn: uint64(key.conn), Msg: raw})
	}
}

// deliverWT hands the WebTorrent messages of a Delivery to this node's /announce.
func (n *Node) deliverWT(outs []clusterwire.Out) {
	var local []announce.Out
	for _, o := range outs {
		m, err := webtorrent.DecodeReply(o.Msg)
		if err != nil {
			n.m.failures.WithLabelValues("decode").Inc()
			continue
		}
		local = append(local, announce.Out{To: announce.ConnID(o.Conn), Msg: m})
	}
	if len(local) > 0 && n.wtDeliver != nil {
		n.wtDeliver(local)
	}
}
