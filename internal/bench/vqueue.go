package bench

import "time"

// vqueue is the virtual-time bench's one event queue: events run in time
// order, ties in the order they were scheduled, so a run is a function of
// its seed. Time is nanoseconds since base. The heap is 4-ary: half as deep
// as a binary one, and the four children of a node share a cache line or
// two (a 10,000-viewer run keeps ~10⁵ events queued).
type vqueue struct {
	base   time.Time
	now    int64
	seq    uint64
	h      []vevent
	soon   []func() // due now, after the running event: FIFO, no heap
	events uint64   // run so far
}

type vevent struct {
	at  int64
	seq uint64
	fn  func()
}

func (q *vqueue) time() time.Time { return q.base.Add(time.Duration(q.now)) }

func (q *vqueue) ns(t time.Time) int64 { return int64(t.Sub(q.base)) }

// at schedules fn at t (not before now).
func (q *vqueue) at(t time.Time, fn func()) { q.atNS(q.ns(t), fn) }

// after schedules fn d from now.
func (q *vqueue) after(d time.Duration, fn func()) { q.atNS(q.now+int64(max(d, 0)), fn) }

// next runs fn at this instant, once the running event (and what it queued
// before) has run: a viewer's batch of one instant, a link's answer.
func (q *vqueue) next(fn func()) { q.soon = append(q.soon, fn) }

func (q *vqueue) atNS(at int64, fn func()) {
	if at < q.now {
		at = q.now
	}
	q.seq++
	q.h = append(q.h, vevent{at, q.seq, fn})
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
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
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

// runUntil runs every event due before end; now ends at end.
func (q *vqueue) runUntil(end time.Time) {
	e := q.ns(end)
	for len(q.h) > 0 && q.h[0].at < e {
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
	q.now = max(q.now, e)
}
