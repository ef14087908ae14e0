package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// Store is the swarm state of the whole cluster as one swarm.Store (and
// swarm.BanLister): every call that names a swarm runs on the store of the swarm's
// owner in this node's view (the store its core decides with), Swarms merges every
// owner's swarms and Collect runs on every node. So the operator's API on any node
// lists and lifts the bans of every swarm, and storetest checks the clustered store
// as it checks the in-memory one.
//
// Each call is atomic on the owner, as the Store contract asks. While the view
// changes (a node joins, dies or drains) a call goes to the owner this node sees;
// state other than the members (which are restored on the new owner) stays with the
// old owner's store and is forgotten with the swarm. Obtain one with Node.Store; it
// is valid once the node is started.
type Store struct{ n *Node }

var (
	_ swarm.Store     = (*Store)(nil)
	_ swarm.BanLister = (*Store)(nil)
)

// ErrStore wraps a store call the owner could not run or did not answer.
var ErrStore = errors.New("cluster: store call")

// Store returns the cluster-wide store seen from this node.
func (n *Node) Store() *Store { return &Store{n: n} }

// SharedStore implements tracker.SharedStore.
func (n *Node) SharedStore() swarm.Store { return n.Store() }

// call runs c on the owner of swarm k: in place when that is this node, otherwise
// as a NATS request (retried while the owner has no subscriber and the view may
// still move on, like a join).
func (s *Store) call(ctx context.Context, k swarm.SwarmKey, c clusterwire.StoreCall) (clusterwire.StoreReply, error) {
	n := s.n
	c.Stream, c.Rendition = k.Stream, k.Rendition
	n.mu.Lock()
	owner := n.ownerOfLocked(k)
	n.mu.Unlock()
	if owner == n.cfg.Name {
		return n.runStore(ctx, &c), nil
	}
	return s.remote(ctx, k, owner, &c)
}

func (s *Store) remote(ctx context.Context, k swarm.SwarmKey, owner string, c *clusterwire.StoreCall) (clusterwire.StoreReply, error) {
	n := s.n
	b, err := clusterwire.Encode(c)
	if err != nil {
		return clusterwire.StoreReply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	var msg *nats.Msg
	for {
		msg, err = n.nc.RequestWithContext(ctx, clusterwire.StoreSubject(n.cfg.Prefix, owner), b)
		if !errors.Is(err, nats.ErrNoResponders) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.BeatInterval):
			n.mu.Lock()
			owner = n.ownerOfLocked(k)
			n.mu.Unlock()
			continue
		}
		break
	}
	if err != nil {
		n.m.failures.WithLabelValues("store").Inc()
		return clusterwire.StoreReply{}, fmt.Errorf("%w %s on %s: %w", ErrStore, c.Op, owner, err)
	}
	n.m.forwarded.WithLabelValues("store").Inc()
	var rep clusterwire.StoreReply
	if err := clusterwire.Decode(msg.Data, &rep); err != nil {
		return rep, fmt.Errorf("%w %s on %s: %w", ErrStore, c.Op, owner, err)
	}
	return rep, nil
}

// replyErr turns a reply's error back into the swarm package's sentinels.
func replyErr(rep clusterwire.StoreReply, err error) error {
	switch {
	case err != nil:
		return err
	case rep.Error == "":
		return nil
	case rep.Error == clusterwire.StorePeerNotFound:
		return swarm.ErrPeerNotFound
	case rep.Error == clusterwire.StorePeerExists:
		return swarm.ErrPeerExists
	}
	return fmt.Errorf("%w: %s", ErrStore, rep.Error)
}

// AddPeer implements swarm.Store.
func (s *Store) AddPeer(ctx context.Context, k swarm.SwarmKey, p swarm.Peer) error {
	wp := storePeer(p)
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreAddPeer, Peer: &wp}))
}

// RemovePeer implements swarm.Store.
func (s *Store) RemovePeer(ctx context.Context, k swarm.SwarmKey, id string, now time.Time) ([]string, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreRemovePeer, ID: id, Now: clusterwire.UnixNano(now)})
	if err := replyErr(rep, err); err != nil {
		return nil, err
	}
	return nonNil(rep.IDs), nil
}

// Peer implements swarm.Store.
func (s *Store) Peer(ctx context.Context, k swarm.SwarmKey, id string) (swarm.Peer, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StorePeer, ID: id})
	if err := replyErr(rep, err); err != nil {
		return swarm.Peer{}, err
	}
	if len(rep.Peers) != 1 {
		return swarm.Peer{}, fmt.Errorf("%w: peer: %d records in the reply", ErrStore, len(rep.Peers))
	}
	return peerOf(rep.Peers[0]), nil
}

// OpenPeers implements swarm.Store.
func (s *Store) OpenPeers(ctx context.Context, k swarm.SwarmKey, start uint64, limit int) ([]swarm.Peer, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreOpenPeers, Start: start, Limit: min(max(limit, 0), clusterwire.MaxStoreLimit)})
	if err := replyErr(rep, err); err != nil {
		return nil, err
	}
	out := make([]swarm.Peer, len(rep.Peers))
	for i, p := range rep.Peers {
		out[i] = peerOf(p)
	}
	return out, nil
}

// SetPosition implements swarm.Store.
func (s *Store) SetPosition(ctx context.Context, k swarm.SwarmKey, id string, pos float64, at time.Time) error {
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreSetPosition,
		Peer: &clusterwire.Peer{ID: id, Pos: pos, PosAt: clusterwire.UnixNano(at)}}))
}

// SetLimit implements swarm.Store.
func (s *Store) SetLimit(ctx context.Context, k swarm.SwarmKey, id string, limit int) error {
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreSetLimit, ID: id, Limit: limit}))
}

// Link implements swarm.Store.
func (s *Store) Link(ctx context.Context, k swarm.SwarmKey, a, b string) error {
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreLink, ID: a, Other: b}))
}

// Unlink implements swarm.Store.
func (s *Store) Unlink(ctx context.Context, k swarm.SwarmKey, a, b string) error {
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreUnlink, ID: a, Other: b}))
}

// Neighbours implements swarm.Store.
func (s *Store) Neighbours(ctx context.Context, k swarm.SwarmKey, id string) ([]string, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreNeighbours, ID: id})
	if err := replyErr(rep, err); err != nil {
		return nil, err
	}
	return nonNil(rep.IDs), nil
}

// Linked implements swarm.Store.
func (s *Store) Linked(ctx context.Context, k swarm.SwarmKey, a, b string) (bool, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreLinked, ID: a, Other: b})
	return rep.Bool, replyErr(rep, err)
}

// Met implements swarm.Store.
func (s *Store) Met(ctx context.Context, k swarm.SwarmKey, a, b string) (bool, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreMet, ID: a, Other: b})
	return rep.Bool, replyErr(rep, err)
}

// UpdateStats implements swarm.Store.
func (s *Store) UpdateStats(ctx context.Context, k swarm.SwarmKey, id string, c swarm.Counters) (swarm.Counters, error) {
	wc := wireCounters(c)
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreUpdateStats, ID: id, Counters: &wc})
	if err := replyErr(rep, err); err != nil {
		return swarm.Counters{}, err
	}
	return countersOf(rep.Counters), nil
}

// Swarm implements swarm.Store.
func (s *Store) Swarm(ctx context.Context, k swarm.SwarmKey) (swarm.SwarmStats, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreSwarm})
	if err := replyErr(rep, err); err != nil {
		return swarm.SwarmStats{}, err
	}
	if rep.Swarm == nil {
		return swarm.SwarmStats{Swarm: k}, nil
	}
	return statsOf(*rep.Swarm), nil
}

// Swarms implements swarm.Store: every owner's swarms (Node.Swarms).
func (s *Store) Swarms(ctx context.Context) ([]swarm.SwarmStats, error) { return s.n.Swarms(ctx) }

// AddReport implements swarm.Store.
func (s *Store) AddReport(ctx context.Context, k swarm.SwarmKey, target, reporterAddr string) ([]swarm.Reporter, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreAddReport, ID: target, Addr: reporterAddr})
	if err := replyErr(rep, err); err != nil {
		return nil, err
	}
	out := make([]swarm.Reporter, len(rep.Reporters))
	for i, r := range rep.Reporters {
		out[i] = swarm.Reporter{Addr: r.Addr, Count: r.Count}
	}
	return out, nil
}

// AddStrikes implements swarm.Store.
func (s *Store) AddStrikes(ctx context.Context, k swarm.SwarmKey, addr string, delta int, now time.Time, ttl time.Duration) (int, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreAddStrikes, Addr: addr, Delta: delta,
		Now: clusterwire.UnixNano(now), TTL: int64(ttl)})
	return rep.Int, replyErr(rep, err)
}

// Ban implements swarm.Store.
func (s *Store) Ban(ctx context.Context, k swarm.SwarmKey, b swarm.Ban) error {
	return replyErr(s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreBan,
		Ban: &clusterwire.Ban{PeerID: b.PeerID, Addr: b.Addr, Until: clusterwire.UnixNano(b.Until)}}))
}

// Banned implements swarm.Store.
func (s *Store) Banned(ctx context.Context, k swarm.SwarmKey, id, addr string, now time.Time) (bool, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreBanned, ID: id, Addr: addr, Now: clusterwire.UnixNano(now)})
	return rep.Bool, replyErr(rep, err)
}

// Bans implements swarm.BanLister.
func (s *Store) Bans(ctx context.Context, k swarm.SwarmKey, now time.Time) ([]swarm.Ban, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreBans, Now: clusterwire.UnixNano(now)})
	if err := replyErr(rep, err); err != nil {
		return nil, err
	}
	var out []swarm.Ban
	for _, b := range rep.Bans {
		out = append(out, swarm.Ban{PeerID: b.PeerID, Addr: b.Addr, Until: clusterwire.Time(b.Until)})
	}
	return out, nil
}

// Unban implements swarm.BanLister.
func (s *Store) Unban(ctx context.Context, k swarm.SwarmKey, id, addr string, now time.Time) (bool, error) {
	rep, err := s.call(ctx, k, clusterwire.StoreCall{Op: clusterwire.StoreUnban, ID: id, Addr: addr, Now: clusterwire.UnixNano(now)})
	return rep.Bool, replyErr(rep, err)
}

// Collect implements swarm.Store: every node in this node's view collects its own
// store. The first failure is returned after every node was asked.
func (s *Store) Collect(ctx context.Context, now time.Time, emptyTTL time.Duration) error {
	n := s.n
	c := clusterwire.StoreCall{Op: clusterwire.StoreCollect, Now: clusterwire.UnixNano(now), TTL: int64(max(emptyTTL, 0))}
	var first error
	for _, node := range n.Nodes() {
		var err error
		if node == n.cfg.Name {
			err = replyErr(n.runStore(ctx, &c), nil)
		} else {
			err = replyErr(s.remote(ctx, swarm.SwarmKey{}, node, &c))
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// onStore runs a store call from another node on this node's store.
func (n *Node) onStore(msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	var c clusterwire.StoreCall
	if err := clusterwire.Decode(msg.Data, &c); err != nil {
		n.m.failures.WithLabelValues("decode").Inc()
		respond(msg, &clusterwire.StoreReply{Error: "bad call"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RequestTimeout)
	defer cancel()
	rep := n.runStore(ctx, &c)
	respond(msg, &rep)
}

// runStore runs one (validated) call on this node's store.
func (n *Node) runStore(ctx context.Context, c *clusterwire.StoreCall) clusterwire.StoreReply {
	st := n.core.Store()
	k := swarm.SwarmKey{Stream: c.Stream, Rendition: c.Rendition}
	now, ttl := clusterwire.Time(c.Now), time.Duration(c.TTL)
	var rep clusterwire.StoreReply
	var err error
	switch c.Op {
	case clusterwire.StoreAddPeer:
		err = st.AddPeer(ctx, k, peerOf(*c.Peer))
	case clusterwire.StoreRemovePeer:
		rep.IDs, err = st.RemovePeer(ctx, k, c.ID, now)
	case clusterwire.StorePeer:
		var p swarm.Peer
		if p, err = st.Peer(ctx, k, c.ID); err == nil {
			rep.Peers = []clusterwire.Peer{storePeer(p)}
		}
	case clusterwire.StoreOpenPeers:
		var ps []swarm.Peer
		ps, err = st.OpenPeers(ctx, k, c.Start, c.Limit)
		for _, p := range ps {
			rep.Peers = append(rep.Peers, storePeer(p))
		}
	case clusterwire.StoreSetLimit:
		err = st.SetLimit(ctx, k, c.ID, c.Limit)
	case clusterwire.StoreSetPosition:
		err = st.SetPosition(ctx, k, c.Peer.ID, c.Peer.Pos, clusterwire.Time(c.Peer.PosAt))
	case clusterwire.StoreLink:
		err = st.Link(ctx, k, c.ID, c.Other)
	case clusterwire.StoreUnlink:
		err = st.Unlink(ctx, k, c.ID, c.Other)
	case clusterwire.StoreNeighbours:
		rep.IDs, err = st.Neighbours(ctx, k, c.ID)
	case clusterwire.StoreLinked:
		rep.Bool, err = st.Linked(ctx, k, c.ID, c.Other)
	case clusterwire.StoreMet:
		rep.Bool, err = st.Met(ctx, k, c.ID, c.Other)
	case clusterwire.StoreUpdateStats:
		var d swarm.Counters
		if d, err = st.UpdateStats(ctx, k, c.ID, countersOf(c.Counters)); err == nil {
			wc := wireCounters(d)
			rep.Counters = &wc
		}
	case clusterwire.StoreSwarm:
		var ss swarm.SwarmStats
		if ss, err = st.Swarm(ctx, k); err == nil {
			ws := wireStats(ss)
			rep.Swarm = &ws
		}
	case clusterwire.StoreAddReport:
		var rs []swarm.Reporter
		rs, err = st.AddReport(ctx, k, c.ID, c.Addr)
		for _, r := range rs {
			rep.Reporters = append(rep.Reporters, clusterwire.Reporter{Addr: r.Addr, Count: r.Count})
		}
	case clusterwire.StoreAddStrikes:
		rep.Int, err = st.AddStrikes(ctx, k, c.Addr, c.Delta, now, ttl)
	case clusterwire.StoreBan:
		err = st.Ban(ctx, k, swarm.Ban{PeerID: c.Ban.PeerID, Addr: c.Ban.Addr, Until: clusterwire.Time(c.Ban.Until)})
	case clusterwire.StoreBanned:
		rep.Bool, err = st.Banned(ctx, k, c.ID, c.Addr, now)
	case clusterwire.StoreBans, clusterwire.StoreUnban:
		bl, ok := st.(swarm.BanLister)
		if !ok {
			err = errors.New("the owner's store lists no bans")
			break
		}
		if c.Op == clusterwire.StoreUnban {
			rep.Bool, err = bl.Unban(ctx, k, c.ID, c.Addr, now)
			break
		}
		var bans []swarm.Ban
		bans, err = bl.Bans(ctx, k, now)
		for _, b := range bans {
			rep.Bans = append(rep.Bans, clusterwire.Ban{PeerID: b.PeerID, Addr: b.Addr, Until: clusterwire.UnixNano(b.Until)})
		}
	case clusterwire.StoreCollect:
		err = st.Collect(ctx, now, ttl)
	}
	switch {
	case err == nil:
	case errors.Is(err, swarm.ErrPeerNotFound):
		rep = clusterwire.StoreReply{Error: clusterwire.StorePeerNotFound}
	case errors.Is(err, swarm.ErrPeerExists):
		rep = clusterwire.StoreReply{Error: clusterwire.StorePeerExists}
	default:
		msg := err.Error()
		rep = clusterwire.StoreReply{Error: msg[:min(len(msg), 256)]}
	}
	return rep
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// storePeer and peerOf convert a store record, Degree and zero times included.
func storePeer(p swarm.Peer) clusterwire.Peer {
	return clusterwire.Peer{ID: p.ID, Addr: p.Addr, Region: p.Region, UploadCapacity: p.UploadCapacity,
		Limit: p.Limit, Joined: clusterwire.UnixNano(p.Joined), Degree: p.Degree, Pos: p.Pos, PosAt: clusterwire.UnixNano(p.PosAt)}
}

func peerOf(p clusterwire.Peer) swarm.Peer {
	return swarm.Peer{ID: p.ID, Addr: p.Addr, Region: p.Region, UploadCapacity: p.UploadCapacity,
		Limit: p.Limit, Joined: clusterwire.Time(p.Joined), Degree: p.Degree, Pos: p.Pos, PosAt: clusterwire.Time(p.PosAt)}
}

func wireCounters(c swarm.Counters) clusterwire.Counters {
	return clusterwire.Counters{BytesCDN: c.BytesCDN, BytesP2P: c.BytesP2P, BytesUp: c.BytesUp, Stalls: c.Stalls}
}

func countersOf(c *clusterwire.Counters) swarm.Counters {
	if c == nil {
		return swarm.Counters{}
	}
	return swarm.Counters{BytesCDN: c.BytesCDN, BytesP2P: c.BytesP2P, BytesUp: c.BytesUp, Stalls: c.Stalls}
}

func wireStats(s swarm.SwarmStats) clusterwire.SwarmStats {
	return clusterwire.SwarmStats{Stream: s.Swarm.Stream, Rendition: s.Swarm.Rendition, Peers: s.Peers, Capacity: s.Capacity,
		BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls}
}

func statsOf(s clusterwire.SwarmStats) swarm.SwarmStats {
	return swarm.SwarmStats{Swarm: swarm.SwarmKey{Stream: s.Stream, Rendition: s.Rendition}, Peers: s.Peers, Capacity: s.Capacity,
		Counters: swarm.Counters{BytesCDN: s.BytesCDN, BytesP2P: s.BytesP2P, BytesUp: s.BytesUp, Stalls: s.Stalls}}
}
