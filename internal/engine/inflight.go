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
// source, with when each was issued. Beside the set it keeps the entries in
// the order the scheduler is given them (issued, then seq, piece, source),
// so a plan needs neither a sort nor map order: entries are issued in time
// order and land at the tail, and a removal finds its entry by binary
// search. The zero value is empty and ready to use.
type inflight struct {
	m      map[pendKey]time.Time
	order  []pendEntry     // sorted by compare
	pieces map[pieceID]int // requests per piece, any source
}

// pieceID names a piece of the window.
type pieceID struct {
	seq   uint64
	piece int
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

// asked reports whether piece i of seq is asked of anyone.
func (f *inflight) asked(seq uint64, i int) bool { return f.pieces[pieceID{seq, i}] > 0 }

func (f *inflight) count(k pendKey, d int) {
	id := pieceID{k.seq, k.piece}
	if n := f.pieces[id] + d; n > 0 {
		f.pieces[id] = n
	} else {
		delete(f.pieces, id)
	}
}

func (f *inflight) get(k pendKey) (time.Time, bool) {
	t, ok := f.m[k]
	return t, ok
}

// add records k issued at since (replacing an earlier issue of k).
func (f *inflight) add(k pendKey, since time.Time) {
	if old, ok := f.m[k]; ok {
		if old.Equal(since) {
			return
		}
		f.remove(pendEntry{k, old})
	}
	if f.m == nil {
		f.m = make(map[pendKey]time.Time)
		f.pieces = make(map[pieceID]int)
	}
	if _, ok := f.m[k]; !ok {
		f.count(k, 1)
	}
	f.m[k] = since
	e := pendEntry{k, since}
	i := len(f.order)
	for i > 0 && f.order[i-1].compare(e) > 0 {
		i--
	}
	f.order = slices.Insert(f.order, i, e)
}

func (f *inflight) del(k pendKey) {
	if since, ok := f.m[k]; ok {
		delete(f.m, k)
		f.count(k, -1)
		f.remove(pendEntry{k, since})
	}
}

func (f *inflight) remove(e pendEntry) {
	if i, ok := slices.BinarySearchFunc(f.order, e, pendEntry.compare); ok {
		f.order = slices.Delete(f.order, i, i+1)
	}
}

// delFunc removes every entry for which drop is true.
func (f *inflight) delFunc(drop func(pendKey) bool) {
	f.order = slices.DeleteFunc(f.order, func(e pendEntry) bool {
		if drop(e.k) {
			delete(f.m, e.k)
			f.count(e.k, -1)
			return true
		}
		return false
	})
}

// appendTo appends the entries, in order, as the scheduler's Pending.
func (f *inflight) appendTo(out []scheduler.Pending) []scheduler.Pending {
	for _, e := range f.order {
		out = append(out, scheduler.Pending{Seq: e.k.seq, Piece: e.k.piece, From: e.k.from, Since: e.since})
	}
	return out
}
