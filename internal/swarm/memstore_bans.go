package swarm

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// BanLister is the optional part of a Store the operator's API uses to list and lift
// bans. MemStore implements it; a Store without it simply offers no ban administration.
type BanLister interface {
	// Bans returns the bans of swarm s in force at now, ids first, each sorted. A ban
	// of both an id and an address is listed as two entries.
	Bans(ctx context.Context, s SwarmKey, now time.Time) ([]Ban, error)
	// Unban lifts the ban of id or of addr (either may be empty) and reports whether
	// one was in force at now.
	Unban(ctx context.Context, s SwarmKey, id, addr string, now time.Time) (bool, error)
}

// Bans implements BanLister.
func (m *MemStore) Bans(_ context.Context, s SwarmKey, now time.Time) ([]Ban, error) {
	sh := m.shard(s)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sw := sh.swarm(s, false)
	if sw == nil {
		return nil, nil
	}
	var ids, addrs []Ban
	for id, until := range sw.banIDs {
		if until.After(now) {
			ids = append(ids, Ban{PeerID: id, Until: until})
		}
	}
	for a, until := range sw.banAddrs {
		if until.After(now) {
			addrs = append(addrs, Ban{Addr: a, Until: until})
		}
	}
	slices.SortFunc(ids, func(a, b Ban) int { return cmp.Compare(a.PeerID, b.PeerID) })
	slices.SortFunc(addrs, func(a, b Ban) int { return cmp.Compare(a.Addr, b.Addr) })
	return append(ids, addrs...), nil
}

// Unban implements BanLister.
func (m *MemStore) Unban(_ context.Context, s SwarmKey, id, addr string, now time.Time) (bool, error) {
	sh := m.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarm(s, false)
	if sw == nil {
		return false, nil
	}
	found := false
	if until, ok := sw.banIDs[id]; id != "" && ok {
		found = found || until.After(now)
		delete(sw.banIDs, id)
	}
	if until, ok := sw.banAddrs[addr]; addr != "" && ok {
		found = found || until.After(now)
		delete(sw.banAddrs, addr)
	}
	return found, nil
}
