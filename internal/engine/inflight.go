package engine

import (
	"cmp"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// pendKey is one piece asked of one source.
type pendKey struct {
	seq   uint64
	piece int
	from  string // scheduler.Edge or a neighbour id
}

// inflight is the set of requests we issued, one entry per piece and
// source, with when each was issued. It keeps them in the order the
// scheduler is given them (issued, then seq, piece, source), so a plan needs
// no sort: entries are issued in time order and land at the tail. Removed or
// re-issued entries stay in the order until a compaction and are skipped.
// The zero value is empty and ready to use.
type inflight struct {
	m     map[pendKey]time.Time
	order []pendEntry
	stale int
}

type pendEntry struct {
	k     pendKey
	since time.Time
}

func (a pendEntry) compare(b pendEntry) int {
	if c := a.since.Compare(b.since); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k.seq, b.k.seq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k.piece, b.k.piece); c != 0 {
		return c
	}
	return cmp.Compare(a.k.from, b.k.from)
}

func (f *inflight) len() int { return len(f.m) }

func (f *inflight) get(k pendKey) (time.Time, bool) {
	t, ok := f.m[k]
	return t, ok
}

func (f *inflight) add(k pendKey, since time.Time) {
	if f.m == nil {
		f.m = make(map[pendKey]time.Time)
	}
	if old, ok := f.m[k]; ok {
		if old.Equal(since) {
			return
		}
		f.stale++
	}
	f.m[k] = since
	e := pendEntry{k, since}
	// A dead entry of the same key and time (removed, then issued again at
	// the same instant) would come back to life beside the new one: drop it.
	for i := len(f.order) - 1; i >= 0 && !f.order[i].since.Before(since); i-- {
		if f.order[i].k == k && f.order[i].since.Equal(since) {
			f.order = slices.Delete(f.order, i, i+1)
			f.stale--
			break
		}
	}
	i := len(f.order)
	for i > 0 && f.order[i-1].compare(e) > 0 {
		i--
	}
	f.order = slices.Insert(f.order, i, e)
}

func (f *inflight) del(k pendKey) {
	if _, ok := f.m[k]; ok {
		delete(f.m, k)
		f.stale++
		f.compact()
	}
}

// compact drops dead entries once they outnumber the live ones: the order
// stays within twice the set, plus a little.
func (f *inflight) compact() {
	if f.stale > 32 && f.stale > len(f.m) {
		f.order = slices.DeleteFunc(f.order, f.dead)
		f.stale = 0
	}
}

// delFunc removes every entry for which drop is true.
func (f *inflight) delFunc(drop func(pendKey) bool) {
	for k := range f.m {
		if drop(k) {
			f.del(k)
		}
	}
}

// appendTo appends the entries in order as the scheduler's Pending.
func (f *inflight) appendTo(out []scheduler.Pending) []scheduler.Pending {
	f.compact()
	for _, e := range f.order {
		if !f.dead(e) {
			out = append(out, scheduler.Pending{Seq: e.k.seq, Piece: e.k.piece, From: e.k.from, Since: e.since})
		}
	}
	return out
}

// dead reports whether e was removed or re-issued since.
func (f *inflight) dead(e pendEntry) bool {
	t, ok := f.m[e.k]
	return !ok || !t.Equal(e.since)
}
