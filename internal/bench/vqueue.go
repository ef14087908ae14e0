package bench

import "time"

// vqueue is one partition's event queue (vpart.go): events run in time
// order, ties by key. A key is its event's origin (the viewer, the tracker
// or the run that scheduled it) and that origin's count of events
// scheduled so far, so the order does not depend on how the viewers are
// partitioned and a run is a function of its seed. Time is nanoseconds
// since base. The heap is 4-ary: half as deep as a binary one, and the four
// children of a node share a cache line or two (a 10,000-viewer run keeps
// ~10⁵ events queued).
type vqueue struct {
	base   time.Time
	now    int64
	h      []vevent
	soon   []func() // due now, after the running event: FIFO, no heap
	events uint64   // run so far
}

type vevent struct {
	at  int64
	key uint64
	fn  func()
}

// Origins of event keys: the run's own (joins, leaves, seeks), viewer i's
// (i+1), the tracker's (vTrackerOrigin). An origin's count takes the low
// vKeyBits.
const (
	vKeyBits       = 40
	vTrackerOrigin = 1<<(64-vKeyBits) - 1
)

// vkeys counts one origin's events.
type vkeys struct{ origin, n uint64 }

func (k *vkeys) next() uint64 {
	k.n++
	return k.origin<<vKeyBits | k.n
}

func (q *vqueue) time() time.Time { return q.base.Add(time.Duration(q.now)) }

func (q *vqueue) ns(t time.Time) int64 { return int64(t.Sub(q.base)) }

// next runs fn at this instant, once the running event (and what it queued
// before) has run: a viewer's batch of one instant.
func (q *vqueue) next(fn func()) { q.soon = append(q.soon, fn) }

// push schedules ev (not before now).
func (q *vqueue) push(ev vevent) {
	ev.at = max(ev.at, q.now)
	q.h = append(q.h, ev)
	// Sift up.
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *vqueue) less(i, j int) bool {
	a, b := &q.h[i], &q.h[j]
	return a.at < b.at || (a.at == b.at && a.key < b.key)
}

// pop removes the earliest event.
func (q *vqueue) pop() vevent {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = vevent{}
	q.h = q.h[:n]
	i := 0
	for {
		m := i
		for c := 4*i + 1; c <= 4*i+4 && c < n; c++ {
			if q.less(c, m) {
				m = c
			}
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}

// runUntil runs every event due before end (ns); now ends at end.
func (q *vqueue) runUntil(end int64) {
	for len(q.h) > 0 && q.h[0].at < end {
		ev := q.pop()
		q.now = ev.at
		q.events++
		ev.fn()
		for i := 0; i < len(q.soon); i++ {
			q.events++
			q.soon[i]()
		}
		clear(q.soon)
		q.soon = q.soon[:0]
	}
	q.now = max(q.now, end)
}
