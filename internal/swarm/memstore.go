package swarm

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// MemStore is the in-memory Store: swarms are spread over shards by key hash, each shard
// with its own lock, so unrelated swarms never contend. The zero value is not usable;
// call NewMemStore.
type MemStore struct {
	seed   maphash.Seed
	shards []memShard
}

type memShard struct {
	mu     sync.RWMutex
	swarms map[SwarmKey]*memSwarm
}

type memSwarm struct {
	peers      map[string]*memPeer
	open       []*memPeer // peers with len(links) < Limit, indexed by memPeer.openAt
	totals     Counters
	capacity   int64
	emptySince time.Time
	reports    map[string]map[string]int // target id → reporter address → count
	strikes    map[string]strike         // reporter address → uncorroborated reports
	banIDs     map[string]time.Time
	banAddrs   map[string]time.Time
}

type strike struct {
	n     int
	until time.Time
}

type memPeer struct {
	Peer
	links map[string]struct{}
	met   map[string]struct{}
	last  Counters
	// openAt is p's index in memSwarm.open, -1 when full: an indexed set keeps
	// OpenPeers O(limit) and deterministic, where a map would be neither.
	openAt int
}

var errSelfLink = errors.New("swarm: cannot link a peer to itself")

// NewMemStore returns an empty store with the given number of shards (≤0 → 64).
func NewMemStore(shards int) *MemStore {
	if shards <= 0 {
		shards = 64
	}
	m := &MemStore{seed: maphash.MakeSeed(), shards: make([]memShard, shards)}
	for i := range m.shards {
		m.shards[i].swarms = make(map[SwarmKey]*memSwarm)
	}
	return m
}

func (m *MemStore) shard(s SwarmKey) *memShard {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(s.Stream)
	h.WriteByte(0)
	h.WriteString(s.Rendition)
	return &m.shards[h.Sum64()%uint64(len(m.shards))]
}

// swarm returns the swarm, creating it when create is set; the shard lock must be held.
func (sh *memShard) swarm(s SwarmKey, create bool) *memSwarm {
	sw := sh.swarms[s]
	if sw == nil && create {
		sw = &memSwarm{
			peers:    make(map[string]*memPeer),
			reports:  make(map[string]map[string]int),
			strikes:  make(map[string]strike),
			banIDs:   make(map[string]time.Time),
			banAddrs: make(map[string]time.Time),
		}
		sh.swarms[s] = sw
	}
	return sw
}

func (sw *memSwarm) updateOpen(p *memPeer) {
	if len(p.links) < p.Limit {
		if p.openAt < 0 {
			p.openAt = len(sw.open)
			sw.open = append(sw.open, p)
		}
		return
	}
	sw.closeOpen(p)
}

// closeOpen takes p out of the open set (swap with the last element).
func (sw *memSwarm) closeOpen(p *memPeer) {
	i := p.openAt
	if i < 0 {
		return
	}
	last := sw.open[len(sw.open)-1]
	sw.open[i], last.openAt = last, i
	sw.open[len(sw.open)-1] = nil
	sw.open = sw.open[:len(sw.open)-1]
	p.openAt = -1
}

func (p *memPeer) record() Peer {
	r := p.Peer
	r.Degree = len(p.links)
	return r
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// AddPeer implements Store.
func (m *MemStore) AddPeer(_ context.Context, s SwarmKey, p Peer) error {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, true)
	if _, ok := sw.peers[p.ID]; ok {
		return ErrPeerExists
	}
	p.Degree = 0
	mp := &memPeer{Peer: p, links: make(map[string]struct{}), met: make(map[string]struct{}), openAt: -1}
	sw.peers[p.ID] = mp
	sw.capacity += p.UploadCapacity
	sw.updateOpen(mp)
	return nil
}

// RemovePeer implements Store.
func (m *MemStore) RemovePeer(_ context.Context, s SwarmKey, id string, now time.Time) ([]string, error) {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[id] == nil {
		return nil, ErrPeerNotFound
	}
	p := sw.peers[id]
	for other := range p.links {
		if o := sw.peers[other]; o != nil {
			delete(o.links, id)
			sw.updateOpen(o)
		}
	}
	for other := range p.met {
		if o := sw.peers[other]; o != nil {
			delete(o.met, id)
		}
	}
	delete(sw.peers, id)
	sw.closeOpen(p)
	delete(sw.reports, id)
	sw.capacity -= p.UploadCapacity
	if len(sw.peers) == 0 {
		sw.emptySince = now
	}
	return sortedKeys(p.links), nil
}

// Peer implements Store.
func (m *MemStore) Peer(_ context.Context, s SwarmKey, id string) (Peer, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[id] == nil {
		return Peer{}, ErrPeerNotFound
	}
	return sw.peers[id].record(), nil
}

// OpenPeers implements Store.
func (m *MemStore) OpenPeers(_ context.Context, s SwarmKey, start uint64, limit int) ([]Peer, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil || limit <= 0 || len(sw.open) == 0 {
		return nil, nil
	}
	// A window of the open set from a caller-chosen offset: O(limit), and a sample
	// of a large set that varies with start.
	n := len(sw.open)
	k := min(limit, n)
	first := int(start % uint64(n))
	out := make([]Peer, 0, k)
	for i := range k {
		out = append(out, sw.open[(first+i)%n].record())
	}
	return out, nil
}

// SetPosition implements Store.
func (m *MemStore) SetPosition(_ context.Context, s SwarmKey, id string, pos float64, at time.Time) error {
	return m.update(s, id, func(_ *memSwarm, p *memPeer) { p.Pos, p.PosAt = pos, at })
}

// SetLimit implements Store.
func (m *MemStore) SetLimit(_ context.Context, s SwarmKey, id string, limit int) error {
	return m.update(s, id, func(sw *memSwarm, p *memPeer) {
		p.Limit = limit
		sw.updateOpen(p)
	})
}

// update runs fn on peer id of swarm s under the shard's write lock; ErrPeerNotFound
// if there is no such peer.
func (m *MemStore) update(s SwarmKey, id string, fn func(*memSwarm, *memPeer)) error {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[id] == nil {
		return ErrPeerNotFound
	}
	fn(sw, sw.peers[id])
	return nil
}

// pair returns both peers or ErrPeerNotFound; the shard lock must be held.
func (sw *memSwarm) pair(a, b string) (*memPeer, *memPeer, error) {
	if sw == nil {
		return nil, nil, ErrPeerNotFound
	}
	pa, pb := sw.peers[a], sw.peers[b]
	if pa == nil || pb == nil {
		return nil, nil, ErrPeerNotFound
	}
	return pa, pb, nil
}

// Link implements Store.
func (m *MemStore) Link(_ context.Context, s SwarmKey, a, b string) error {
	if a == b {
		return errSelfLink
	}
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	pa, pb, err := sw.pair(a, b)
	if err != nil {
		return err
	}
	pa.links[b], pb.links[a] = struct{}{}, struct{}{}
	pa.met[b], pb.met[a] = struct{}{}, struct{}{}
	sw.updateOpen(pa)
	sw.updateOpen(pb)
	return nil
}

// Unlink implements Store.
func (m *MemStore) Unlink(_ context.Context, s SwarmKey, a, b string) error {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	pa, pb, err := sw.pair(a, b)
	if err != nil {
		return err
	}
	delete(pa.links, b)
	delete(pb.links, a)
	sw.updateOpen(pa)
	sw.updateOpen(pb)
	return nil
}

// Neighbours implements Store.
func (m *MemStore) Neighbours(_ context.Context, s SwarmKey, id string) ([]string, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[id] == nil {
		return nil, ErrPeerNotFound
	}
	return sortedKeys(sw.peers[id].links), nil
}

// Linked implements Store.
func (m *MemStore) Linked(_ context.Context, s SwarmKey, a, b string) (bool, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	pa, _, err := sh.swarm(s, false).pair(a, b)
	if err != nil {
		return false, nil
	}
	_, ok := pa.links[b]
	return ok, nil
}

// Met implements Store.
func (m *MemStore) Met(_ context.Context, s SwarmKey, a, b string) (bool, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	pa, _, err := sh.swarm(s, false).pair(a, b)
	if err != nil {
		return false, nil
	}
	_, ok := pa.met[b]
	return ok, nil
}

func forward(last *uint64, v uint64) uint64 {
	if v <= *last {
		return 0
	}
	d := v - *last
	*last = v
	return d
}

// UpdateStats implements Store.
func (m *MemStore) UpdateStats(_ context.Context, s SwarmKey, id string, c Counters) (Counters, error) {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[id] == nil {
		return Counters{}, ErrPeerNotFound
	}
	p := sw.peers[id]
	d := Counters{
		BytesCDN: forward(&p.last.BytesCDN, c.BytesCDN),
		BytesP2P: forward(&p.last.BytesP2P, c.BytesP2P),
		BytesUp:  forward(&p.last.BytesUp, c.BytesUp),
		Stalls:   forward(&p.last.Stalls, c.Stalls),
	}
	sw.totals.BytesCDN += d.BytesCDN
	sw.totals.BytesP2P += d.BytesP2P
	sw.totals.BytesUp += d.BytesUp
	sw.totals.Stalls += d.Stalls
	return d, nil
}

func (sw *memSwarm) stats(s SwarmKey) SwarmStats {
	return SwarmStats{Swarm: s, Peers: len(sw.peers), Capacity: sw.capacity, Counters: sw.totals}
}

// Swarm implements Store.
func (m *MemStore) Swarm(_ context.Context, s SwarmKey) (SwarmStats, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil {
		return SwarmStats{Swarm: s}, nil
	}
	return sw.stats(s), nil
}

// Swarms implements Store.
func (m *MemStore) Swarms(_ context.Context) ([]SwarmStats, error) {
	var out []SwarmStats
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for k, sw := range sh.swarms {
			out = append(out, sw.stats(k))
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b SwarmStats) int {
		return cmp.Or(cmp.Compare(a.Swarm.Stream, b.Swarm.Stream), cmp.Compare(a.Swarm.Rendition, b.Swarm.Rendition))
	})
	return out, nil
}

// AddReport implements Store.
func (m *MemStore) AddReport(_ context.Context, s SwarmKey, target, reporterAddr string) ([]Reporter, error) {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	if sw == nil || sw.peers[target] == nil {
		return nil, ErrPeerNotFound
	}
	r := sw.reports[target]
	if r == nil {
		r = make(map[string]int)
		sw.reports[target] = r
	}
	r[reporterAddr]++
	out := make([]Reporter, 0, len(r))
	for addr, n := range r {
		out = append(out, Reporter{Addr: addr, Count: n})
	}
	slices.SortFunc(out, func(a, b Reporter) int { return cmp.Compare(a.Addr, b.Addr) })
	return out, nil
}

// AddStrikes implements Store.
func (m *MemStore) AddStrikes(_ context.Context, s SwarmKey, addr string, delta int, now time.Time, ttl time.Duration) (int, error) {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, delta > 0)
	if sw == nil {
		return 0, nil
	}
	st := sw.strikes[addr]
	if !st.until.After(now) {
		st = strike{}
	}
	st.n = max(0, st.n+delta)
	if delta > 0 {
		st.until = now.Add(ttl)
	}
	if st.n == 0 {
		delete(sw.strikes, addr)
	} else {
		sw.strikes[addr] = st
	}
	return st.n, nil
}

// Ban implements Store.
func (m *MemStore) Ban(_ context.Context, s SwarmKey, b Ban) error {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, true)
	if b.PeerID != "" && b.Until.After(sw.banIDs[b.PeerID]) {
		sw.banIDs[b.PeerID] = b.Until
	}
	if b.Addr != "" && b.Until.After(sw.banAddrs[b.Addr]) {
		sw.banAddrs[b.Addr] = b.Until
	}
	return nil
}

// Banned implements Store.
func (m *MemStore) Banned(_ context.Context, s SwarmKey, id, addr string, now time.Time) (bool, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil {
		return false, nil
	}
	if id != "" && sw.banIDs[id].After(now) {
		return true, nil
	}
	if addr != "" && sw.banAddrs[addr].After(now) {
		return true, nil
	}
	return false, nil
}

// Collect implements Store.
func (m *MemStore) Collect(_ context.Context, now time.Time, emptyTTL time.Duration) error {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, sw := range sh.swarms {
			for id, until := range sw.banIDs {
				if !until.After(now) {
					delete(sw.banIDs, id)
				}
			}
			for a, until := range sw.banAddrs {
				if !until.After(now) {
					delete(sw.banAddrs, a)
				}
			}
			for a, st := range sw.strikes {
				if !st.until.After(now) {
					delete(sw.strikes, a)
				}
			}
			if len(sw.peers) == 0 && len(sw.banIDs) == 0 && len(sw.banAddrs) == 0 && len(sw.strikes) == 0 &&
				!sw.emptySince.Add(emptyTTL).After(now) {
				delete(sh.swarms, k)
			}
		}
		sh.mu.Unlock()
	}
	return nil
}
