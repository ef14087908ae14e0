package bench

import (
	"cmp"
	"log/slog"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/media"
)

// A virtual run's viewers are split into partitions (viewer i into
// partition i mod P), each with its own event queue, and the partitions run
// on their own cores in windows of virtual time: each runs its events due
// before the window's end, then they hand each other what crossed between
// them, and the run alone does what touches every viewer (the tracker core,
// publishing, the samples). A window is at most vWindow long, the shortest
// delay of anything that goes from one viewer to another (a tracker
// message's trip; a link's one-way latency is ≥ 10 ms), so nothing one
// partition does within a window can reach another in it. Each event
// touches one viewer's state, and counters that are only summed, so events
// run in the same order for any P: one seed gives one report, whatever the
// number of cores (TestVirtualPartitions).
const vWindow = vTrackerDelay

// vpart is one partition: its viewers' events and the edge's counters of
// their requests.
type vpart struct {
	idx int
	q   vqueue
	log *slog.Logger
	end int64      // the running window's end
	out [][]vevent // events for other partitions (by index), handed over at the window's end
	ops []vevent   // work for the run's serial phase (vrun.serial)
	enc []byte     // frameSize's buffer

	// The edge's counters of this partition's requests, as the real edge
	// counts them, summed by the run.
	media, overhead, edgeRequests int64
	perSeg                        map[string]int64
	// Link byte counters (payload bytes of frames), as the emulated network's.
	sent, received, dropped int64
	// Fresh-piece timings, applied to the run's spread at the window's end.
	served   []spreadServed
	verified []spreadVerified

	// The edge's playlist cache as this partition's viewers see it.
	plAt      int64
	plEntries []engine.Entry
	plSize    int
}

type spreadServed struct {
	seq          uint64
	first, count int
	at           int64
}

type spreadVerified struct {
	seq        uint64
	idx        int
	joined, at int64
}

func newVPart(idx, n int, base time.Time, log *slog.Logger) *vpart {
	p := &vpart{idx: idx, out: make([][]vevent, n), perSeg: make(map[string]int64)}
	p.q.base = base
	p.log = slog.New(vtimeHandler{log.Handler(), &p.q})
	return p
}

// send schedules ev on partition to, now or at the window's end.
func (p *vpart) send(to *vpart, ev vevent) {
	if to == p {
		p.q.push(ev)
		return
	}
	if ev.at < p.end {
		panic("bench: virtual event crosses partitions within one window") // a delay below vWindow
	}
	p.out[to.idx] = append(p.out[to.idx], ev)
}

func (p *vpart) countMedia(g *vseg, n int64) {
	p.media += n
	p.perSeg[g.path] += n
}

// playlist is the edge's answer to a playlist request at now: the entries
// and the body's size. The edge refreshes its copy from the origin every
// edgePlaylistTTL (a busy edge's cache: some request always comes just
// after the copy expires), so each partition's copy is the same: what was
// published by the last refresh.
func (p *vpart) playlist(s *vstream) ([]engine.Entry, int) {
	ttl := int64(s.edgePlaylistTTL())
	at := p.q.now - p.q.now%ttl
	if p.plEntries != nil && p.plAt == at {
		return p.plEntries, p.plSize
	}
	segs := s.segs
	for len(segs) > 0 && p.q.ns(segs[len(segs)-1].published) > at {
		segs = segs[:len(segs)-1]
	}
	segs = segs[max(0, len(segs)-s.window):]
	pl := media.MediaPlaylist{TargetDuration: int(s.target / time.Second), Ended: s.vod, VOD: s.vod}
	if len(segs) > 0 {
		pl.MediaSequence = segs[0].seq
	}
	entries := make([]engine.Entry, 0, len(segs))
	for _, g := range segs {
		pl.Segments = append(pl.Segments, media.Segment{URI: g.uri, Duration: g.dur, ProgramDateTime: g.pdt})
		entries = append(entries, engine.Entry{Seq: g.seq, Epoch: s.epoch, URI: g.uri, Dur: g.dur, PDT: g.pdt})
	}
	p.plEntries, p.plSize, p.plAt = entries, len(pl.Render()), at
	return p.plEntries, p.plSize
}

// vcores runs the partitions' windows, partition 0 on the caller's
// goroutine and each other on its own.
type vcores struct {
	parts []*vpart
	kick  []chan int64
	done  chan struct{}
}

func newVCores(parts []*vpart) *vcores {
	c := &vcores{parts: parts, done: make(chan struct{}, len(parts))}
	for _, p := range parts[1:] {
		k := make(chan int64)
		c.kick = append(c.kick, k)
		go func() {
			for end := range k {
				p.window(end)
				c.done <- struct{}{}
			}
		}()
	}
	return c
}

func (p *vpart) window(end int64) {
	p.end = end
	p.q.runUntil(end)
}

// run runs every partition's events due before end.
func (c *vcores) run(end int64) {
	for _, k := range c.kick {
		k <- end
	}
	c.parts[0].window(end)
	for range c.kick {
		<-c.done
	}
}

// stop ends the goroutines.
func (c *vcores) stop() {
	for _, k := range c.kick {
		close(k)
	}
}

// sortOps orders serial work as events are: by time, then key.
func sortOps(ops []vevent) {
	slices.SortFunc(ops, func(a, b vevent) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}
