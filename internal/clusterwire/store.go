package clusterwire

import (
	"fmt"
	"time"
)

// Store operations (StoreCall.Op): one per swarm.Store (and swarm.BanLister) method
// that names a swarm, run by the swarm's owner on its own store. Swarms and Collect
// span every node and travel as Streams and StoreCall{Op: StoreCollect} to each.
const (
	StoreAddPeer     = "add_peer"
	StoreRemovePeer  = "remove_peer"
	StorePeer        = "peer"
	StoreOpenPeers   = "open_peers"
	StoreSetLimit    = "set_limit"
	StoreSetPosition = "set_position"
	StoreLink        = "link"
	StoreUnlink      = "unlink"
	StoreNeighbours  = "neighbours"
	StoreLinked      = "linked"
	StoreMet         = "met"
	StoreUpdateStats = "update_stats"
	StoreSwarm       = "swarm"
	StoreAddReport   = "add_report"
	StoreAddStrikes  = "add_strikes"
	StoreBan         = "ban"
	StoreBanned      = "banned"
	StoreBans        = "bans"
	StoreUnban       = "unban"
	StoreCollect     = "collect" // to every node: collect what it owns
)

// StoreReply errors (StoreReply.Error), so the caller gets the swarm package's
// sentinels back.
const (
	StorePeerNotFound = "peer_not_found"
	StorePeerExists   = "peer_exists"
)

// MaxStoreID bounds a peer id or address in a store call. The Store interface takes
// any string (the tracker's peer ids are 22 characters, addresses at most 64).
const MaxStoreID = 64

var storeOps = map[string]bool{
	StoreAddPeer: true, StoreRemovePeer: true, StorePeer: true, StoreOpenPeers: true,
	StoreSetLimit: true, StoreSetPosition: true, StoreLink: true, StoreUnlink: true, StoreNeighbours: true,
	StoreLinked: true, StoreMet: true, StoreUpdateStats: true, StoreSwarm: true,
	StoreAddReport: true, StoreAddStrikes: true, StoreBan: true, StoreBanned: true,
	StoreBans: true, StoreUnban: true, StoreCollect: true,
}

// Counters are a peer's cumulative traffic counters (swarm.Counters).
type Counters struct {
	BytesCDN uint64 `json:"bytes_cdn"`
	BytesP2P uint64 `json:"bytes_p2p"`
	BytesUp  uint64 `json:"bytes_up"`
	Stalls   uint64 `json:"stalls"`
}

// Ban is swarm.Ban; Until is Unix nanoseconds.
type Ban struct {
	PeerID string `json:"peer_id,omitempty"`
	Addr   string `json:"addr,omitempty"`
	Until  int64  `json:"until"`
}

// Reporter is swarm.Reporter.
type Reporter struct {
	Addr  string `json:"addr"`
	Count int    `json:"count"`
}

// StoreCall is one Store method call sent to the owner of its swarm (Stream,
// Rendition; empty for StoreCollect). Fields the method does not take stay zero.
// Times and durations are nanoseconds.
type StoreCall struct {
	Op        string    `json:"op"`
	Stream    string    `json:"stream,omitempty"`
	Rendition string    `json:"rendition,omitempty"`
	Peer      *Peer     `json:"peer,omitempty"` // add_peer; set_position (ID, Pos, PosAt)
	ID        string    `json:"id,omitempty"`   // the peer (or a: link, unlink, linked, met; target: add_report)
	Other     string    `json:"other,omitempty"`
	Addr      string    `json:"addr,omitempty"` // add_report, add_strikes, banned, unban
	Limit     int       `json:"limit,omitempty"`
	Start     uint64    `json:"start,omitempty"`
	Delta     int       `json:"delta,omitempty"`
	Now       int64     `json:"now,omitempty"`
	TTL       int64     `json:"ttl,omitempty"`
	Counters  *Counters `json:"counters,omitempty"`
	Ban       *Ban      `json:"ban,omitempty"`
}

// StoreReply answers a StoreCall: the method's results, or Error (StorePeerNotFound,
// StorePeerExists, or any other text for a failure the caller gets as an error).
type StoreReply struct {
	Error     string      `json:"error,omitempty"`
	Peers     []Peer      `json:"peers,omitempty"` // peer (one), open_peers
	IDs       []string    `json:"ids,omitempty"`   // remove_peer, neighbours
	Bool      bool        `json:"bool,omitempty"`  // linked, met, banned, unban
	Int       int         `json:"int,omitempty"`   // add_strikes
	Counters  *Counters   `json:"counters,omitempty"`
	Swarm     *SwarmStats `json:"swarm,omitempty"`
	Reporters []Reporter  `json:"reporters,omitempty"`
	Bans      []Ban       `json:"bans,omitempty"`
}

func checkStoreID(what, s string, required bool) error {
	if (required && s == "") || len(s) > MaxStoreID {
		return fmt.Errorf("bad %s %q", what, s)
	}
	return nil
}

func (c *StoreCall) validate() error {
	if !storeOps[c.Op] {
		return fmt.Errorf("unknown store op %q", c.Op)
	}
	if c.Op == StoreCollect {
		if c.Stream != "" || c.Rendition != "" || c.TTL < 0 {
			return fmt.Errorf("collect names no swarm and a non-negative ttl")
		}
		return nil
	}
	if err := checkSwarm(c.Stream, c.Rendition); err != nil {
		return err
	}
	if err := checkStoreID("id", c.ID, false); err != nil {
		return err
	}
	if err := checkStoreID("other", c.Other, false); err != nil {
		return err
	}
	if err := checkStoreID("addr", c.Addr, false); err != nil {
		return err
	}
	if c.Limit < 0 || c.Limit > MaxStoreLimit || c.TTL < 0 {
		return fmt.Errorf("negative or huge limit or ttl")
	}
	if c.Delta < -MaxStrikeDelta || c.Delta > MaxStrikeDelta {
		return fmt.Errorf("strike delta %d out of range", c.Delta)
	}
	switch c.Op {
	case StoreAddPeer:
		if c.Peer == nil {
			return fmt.Errorf("add_peer without peer")
		}
		return c.Peer.validateStore()
	case StoreSetPosition:
		if c.Peer == nil || c.Peer.PosAt == 0 {
			return fmt.Errorf("set_position without a position")
		}
		return c.Peer.validateStore()
	case StoreUpdateStats:
		if c.Counters == nil {
			return fmt.Errorf("update_stats without counters")
		}
	case StoreBan:
		if c.Ban == nil || (c.Ban.PeerID == "" && c.Ban.Addr == "") {
			return fmt.Errorf("ban without peer id or address")
		}
		if err := checkStoreID("ban peer", c.Ban.PeerID, false); err != nil {
			return err
		}
		return checkStoreID("ban addr", c.Ban.Addr, false)
	}
	return nil
}

// Bounds of a StoreCall's numbers.
const (
	MaxStoreLimit  = MaxPeers // open_peers' limit and set_limit's bound
	MaxStrikeDelta = 1 << 20
)

// validateStore checks a peer record of the store: any id up to MaxStoreID (the
// Store interface does not restrict ids), the rest as for a member.
func (p *Peer) validateStore() error {
	switch {
	case p.ID == "" || len(p.ID) > MaxStoreID:
		return fmt.Errorf("bad peer id %q", p.ID)
	case len(p.Addr) > 64 || len(p.Region) > 64:
		return fmt.Errorf("peer %s: address or region too long", p.ID)
	case p.UploadCapacity < 0 || p.Limit < 0 || p.Limit > MaxStoreLimit || p.Degree < 0:
		return fmt.Errorf("peer %s: negative capacity or degree, or bad limit", p.ID)
	}
	return p.checkPos()
}

func (r *StoreReply) validate() error {
	switch {
	case len(r.Error) > 256:
		return fmt.Errorf("error text of %d bytes", len(r.Error))
	case len(r.Peers) > MaxPeers || len(r.IDs) > MaxPeers || len(r.Reporters) > MaxPeers || len(r.Bans) > MaxPeers:
		return fmt.Errorf("reply over %d entries", MaxPeers)
	}
	for i := range r.Peers {
		if err := r.Peers[i].validateStore(); err != nil {
			return err
		}
	}
	for _, id := range r.IDs {
		if err := checkStoreID("id", id, true); err != nil {
			return err
		}
	}
	if r.Swarm != nil {
		if err := checkSwarm(r.Swarm.Stream, r.Swarm.Rendition); err != nil {
			return err
		}
	}
	return nil
}

// UnixNano returns t as Unix nanoseconds, 0 for the zero time (so it round-trips).
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Time is the inverse of UnixNano.
func Time(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
