package bench

import (
	"crypto/sha256"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/peer"
	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Edge requests a virtual viewer makes at once (the real shell's semaphore).
const vMaxEdgeFetches = 8

// vviewer is one viewer of a virtual-time run: the real engine core, driven
// by the run's event queue instead of goroutines, with its host on the
// virtual network and its HTTP path to the virtual edge.
type vviewer struct {
	r      *vrun
	p      *vpart
	keys   vkeys // of the events it schedules
	idx    int
	spec   viewerSpec
	core   *engine.Engine
	host   *vhost
	id     string // tracker peer id, from the welcome
	tid    string // the same, for the tracker's side (vrun.serial)
	sess   engine.SessionID
	links  []*vend       // open ends (a short list: a lookup scans it)
	nlinks engine.LinkID // links dialled
	joined time.Time
	left   time.Time // zero while watching
	final  peer.Stats

	readyPending bool
	wakeAt       int64 // scheduled wake event (0: none)

	// HTTP path to the edge: every response waits one round trip, bodies
	// share the downlink (the real bench's shaper).
	rtt      time.Duration
	httpFree int64
	fetching int
	waiting  []engine.FetchEdge
	haveKey  bool

	cdnMedia, cdnOverhead int64
	checked, mismatched   int
}

// link is v's open end id, nil if none.
func (v *vviewer) link(id engine.LinkID) *vend {
	for _, e := range v.links {
		if e.id == id {
			return e
		}
	}
	return nil
}

// unlink removes end id from v's open ends and returns it (nil if none).
func (v *vviewer) unlink(id engine.LinkID) *vend {
	for i, e := range v.links {
		if e.id == id {
			v.links = slices.Delete(v.links, i, i+1)
			return e
		}
	}
	return nil
}

func (v *vviewer) watching() bool { return !v.joined.IsZero() && v.left.IsZero() }

// at schedules fn at t (ns) as v's event.
func (v *vviewer) at(t int64, fn func()) { v.p.q.push(vevent{t, v.keys.next(), fn}) }

// after schedules fn d from now as v's event.
func (v *vviewer) after(d time.Duration, fn func()) { v.at(v.p.q.now+int64(max(d, 0)), fn) }

// toViewer schedules fn at t as an event of viewer o, on o's partition.
func (v *vviewer) toViewer(o *vviewer, t int64, fn func()) {
	v.p.send(o.p, vevent{t, v.keys.next(), fn})
}

// serial schedules fn at t in the run's serial phase (the tracker core).
func (v *vviewer) serial(t int64, fn func()) {
	v.p.ops = append(v.p.ops, vevent{t, v.keys.next(), fn})
}

// step hands the core one event now and arranges a Ready at this instant,
// after every event already due (events of one instant make one batch).
func (v *vviewer) step(ev engine.Event) {
	if !v.watching() {
		return
	}
	v.core.Step(v.p.q.time(), ev)
	v.markReady()
}

func (v *vviewer) markReady() {
	if v.readyPending {
		return
	}
	v.readyPending = true
	v.p.q.next(v.ready)
}

// ready runs the core's decisions and does what it asks.
func (v *vviewer) ready() {
	v.readyPending = false
	if !v.watching() {
		return
	}
	now := v.p.q.time()
	for _, a := range v.core.Ready(now) {
		v.act(a, now)
	}
	// One wake event at a time: an earlier wake replaces it, a later one is
	// rechecked when the scheduled one fires (Ready at any time is allowed).
	w := v.p.q.ns(v.core.Wake())
	if v.wakeAt == 0 || w < v.wakeAt {
		v.wakeAt = w
		v.at(w, func() {
			if v.wakeAt != w {
				return
			}
			v.wakeAt = 0
			v.step(engine.Tick{})
		})
	}
}

func (v *vviewer) act(a engine.Action, now time.Time) {
	r := v.r
	switch a := a.(type) {
	case engine.Send:
		if e := v.link(a.Link); e != nil {
			r.net.send(e, a.Msg)
		}
	case engine.CloseLink:
		if e := v.unlink(a.Link); e != nil {
			r.net.close(e)
		}
	case engine.FetchPlaylist:
		// As in the real bench, the request reaches the edge a round trip
		// late (the shaper waits before sending it) and the edge answers
		// from its cache then.
		var entries []engine.Entry
		v.respond(func() (int, bool) {
			var size int
			entries, size = v.p.playlist(r.stream)
			return size, false
		}, func(_, _ time.Time) {
			v.step(engine.PlaylistFetched{Target: r.stream.target, Entries: entries, Ended: r.stream.vod})
		})
	case engine.FetchRecord:
		g := r.stream.seg(a.ID.Seq)
		if g == nil || g.uri != a.URI {
			v.httpAfter(v.rtt, func() { v.step(engine.RecordFetched{Seq: a.ID.Seq, Err: errVirtual404}) })
			return
		}
		fetch := func() {
			v.respond(func() (int, bool) { return g.recSize, false }, func(_, _ time.Time) {
				v.step(engine.RecordFetched{Seq: a.ID.Seq, Rec: g.rec})
			})
		}
		if !v.haveKey { // the key first, one round trip before
			v.haveKey = true
			v.respond(func() (int, bool) { return r.stream.keySize, false }, func(_, _ time.Time) { fetch() })
			return
		}
		fetch()
	case engine.FetchEdge:
		if v.fetching >= vMaxEdgeFetches {
			v.waiting = append(v.waiting, a)
			return
		}
		v.fetchEdge(a, now)
	case engine.Report:
		if a.Session == v.sess {
			v.trackerHandle(&signalling.Report{Peer: a.Peer, Segment: a.Segment.String(), Piece: a.Piece, Reason: a.Reason})
		}
	case engine.Deliver:
		v.checked++
		if a.Data != nil {
			if g := r.stream.seg(a.ID.Seq); g == nil || sha256.Sum256(a.Data) != g.sum {
				v.mismatched++
			}
		}
	case engine.Forget:
	case engine.Verified:
		v.p.verified = append(v.p.verified, spreadVerified{a.ID.Seq, a.Index, v.p.q.ns(v.joined), v.p.q.now})
	}
}

// fetchEdge runs one Range fetch of the edge.
func (v *vviewer) fetchEdge(a engine.FetchEdge, asked time.Time) {
	g := v.r.stream.seg(a.Seq)
	v.fetching++
	if g == nil || a.Off+a.Len > int64(len(g.data)) {
		v.httpAfter(v.rtt, func() {
			v.edgeDone()
			v.step(engine.EdgeFetched{Seq: a.Seq, First: a.First, Count: a.Count, Err: errVirtual404, Asked: asked})
		})
		return
	}
	v.respond(func() (int, bool) {
		v.p.served = append(v.p.served, spreadServed{a.Seq, a.First, a.Count, v.p.q.now})
		v.p.countMedia(g, a.Len)
		v.cdnMedia += a.Len
		return int(a.Len), true
	}, func(hdr, done time.Time) {
		v.edgeDone()
		v.step(engine.EdgeFetched{Seq: a.Seq, First: a.First, Count: a.Count, Data: g.data[a.Off : a.Off+a.Len],
			Asked: asked, Headers: hdr, Done: done})
	})
}

func (v *vviewer) edgeDone() {
	v.fetching--
	if len(v.waiting) > 0 && v.watching() {
		a := v.waiting[0]
		v.waiting = v.waiting[1:]
		v.fetchEdge(a, v.p.q.time())
	}
}

// respond makes one edge request: it reaches the edge one round trip from
// now (the real bench's shaper waits before sending), where serve answers
// with the body's size (and counts it as the edge does); the headers come at
// once, the body at the downlink's rate after what it already carries.
func (v *vviewer) respond(serve func() (n int, media bool), done func(hdr, end time.Time)) {
	q := &v.p.q
	v.after(v.rtt, func() {
		if !v.watching() {
			return
		}
		v.p.edgeRequests++
		n, media := serve()
		if !media {
			v.p.overhead += int64(n)
			v.cdnOverhead += int64(n)
		}
		hdr := q.now
		end := max(hdr, v.httpFree) + serialNS(n, v.spec.Down)
		v.httpFree = end
		v.at(end, func() {
			if v.watching() {
				done(q.base.Add(time.Duration(hdr)), q.time())
			}
		})
	})
}

func (v *vviewer) httpAfter(d time.Duration, fn func()) {
	v.after(d, func() {
		if v.watching() {
			fn()
		}
	})
}

// linkDown: the other end closed the link.
func (v *vviewer) linkDown(id engine.LinkID) {
	if v.unlink(id) == nil {
		return
	}
	v.step(engine.LinkDown{Link: id})
}

// stats are the viewer's figures in the real engine's form.
func (v *vviewer) stats() peer.Stats {
	if !v.watching() {
		return v.final
	}
	return peer.StatsOf(v.core.Stats(), v.id).WithCDN(v.cdnMedia, v.cdnOverhead)
}

// stop takes the viewer out at now, keeping its final figures.
func (v *vviewer) stop(now time.Time) {
	if !v.watching() {
		return
	}
	v.final = v.stats()
	v.final.Latencies = v.core.LatencySamples()
	v.final.SeekTimes = v.core.SeekSamples()
	v.left = now
	for _, e := range v.links {
		v.r.net.close(e)
	}
	v.links = nil
}
