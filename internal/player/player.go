// Package player models a standard live HLS player, the yardstick shared by
// the tests, `shoal up --peers` and the bench, so that CDN-only and hybrid runs
// are judged by the same rules and P2P cannot buy offload by sitting further
// behind live.
//
// The model follows hls.js's defaults: on joining, it starts at the live edge
// minus LiveSyncCount (3) target durations, then plays in real time. It plays
// whole segments only: a stall is a moment the playhead reaches a segment that
// is not yet completely downloaded; it resumes when that segment is complete.
//
// It is pure: time is an input. The caller reports publications (Publish) and
// completed downloads (Available) with their timestamps and steps the model
// with Advance(now), in any rhythm; a faster-than-real-time bench and a
// testing/synctest bubble drive it the same way.
package player

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Errors returned by Publish.
var (
	ErrOutOfOrder = errors.New("player: segment published out of order")
	ErrDuration   = errors.New("player: segment duration must be positive")
)

// Config tunes the model; the zero value is hls.js's defaults.
type Config struct {
	// LiveSyncCount: start this many target durations behind the live edge
	// (default 3, hls.js's liveSyncDurationCount).
	LiveSyncCount int
	// TargetDuration is the playlist's #EXT-X-TARGETDURATION; 0 derives it
	// from the longest segment published so far, rounded up to a second.
	TargetDuration time.Duration
	// MaxSamples bounds the latency samples kept (default 4096; oldest dropped).
	MaxSamples int
	// Start is where on-demand playback begins (vod.go; 0: the title's start).
	Start time.Duration
}

// Segment is one published media segment.
type Segment struct {
	Seq       uint64
	Duration  time.Duration
	Published time.Time // when it appeared in the origin's playlist
	// NewEpoch marks the first segment of a new epoch (an encoder or origin restart):
	// the numbering gap before it is not missing media, since a restarted origin
	// numbers from the clock (docs/reliability.md) and players play on across it.
	NewEpoch bool
}

// Stats is what the model measured so far.
type Stats struct {
	Started  bool          // the first segment arrived and playback began
	StartSeq uint64        // the segment playback started in
	Startup  time.Duration // join → first segment completely available
	Stalls   int           // stalls after startup
	Stalled  time.Duration // total time spent stalled (ongoing stall included)
	Watched  time.Duration // time since playback began: playing + stalled
	Played   int           // segments played to the end
	// RebufferRatio is Stalled / Watched (0 before playback).
	RebufferRatio float64
	// Latency is the last sample of the live latency (how long ago the frame
	// at the playhead was at the origin's live edge), taken whenever playback
	// enters a segment; LatencySamples has the history.
	Latency    time.Duration
	LatencyMax time.Duration
	// On demand (vod.go): seeks made after startup, the time from a seek to
	// the segment at the new position being available (the last one, and the
	// total), and whether playback reached the end of an ended playlist.
	Seeks    int
	SeekTime time.Duration
	SeekSum  time.Duration
	Finished bool
}

type segment struct {
	Segment
	start time.Duration // media time of its first frame
	avail time.Time     // zero until completely downloaded
}

// Player is one viewer's player. Not safe for concurrent use.
type Player struct {
	cfg  Config
	join time.Time
	segs []segment // published, ascending seq; pruned behind the playhead
	now  time.Time // how far the model has run

	decided  bool
	playing  bool          // startup done
	cur      uint64        // seq being played, or (stalled) the one played last
	offset   time.Duration // playhead position inside cur
	playFrom time.Time     // wall time playback began
	stalled  bool          // waiting for the segment after cur
	stallAt  time.Time

	stats   Stats
	samples []time.Duration
	next    int // ring index into samples once full

	v vodState // on-demand playback (vod.go); zero for live

	gen  uint64 // see Gen
	hint int    // index of cur in segs when last looked up (find)
}

// Gen changes whenever Deadline's answers may change other than by time
// passing in steady playback: a segment published, startup, a stall, a
// resumption, the next segment, a seek, the end.
func (p *Player) Gen() uint64 { return p.gen }

// Steady reports whether every deadline stays where it is until Gen
// changes: playing and not stalled. Starting or stalled, the segment waited
// for is due "now", which moves.
func (p *Player) Steady() bool { return p.playing && !p.stalled && !p.v.finished }

// shape is what Gen follows.
type shape struct {
	decided, playing, stalled, seeking, finished bool
	cur                                          uint64
	n                                            int
}

func (p *Player) shape() shape {
	return shape{p.decided, p.playing, p.stalled, p.v.seeking, p.v.finished, p.cur, len(p.segs)}
}

// New returns a player that joins the stream at join.
func New(cfg Config, join time.Time) *Player {
	if cfg.LiveSyncCount <= 0 {
		cfg.LiveSyncCount = 3
	}
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = 4096
	}
	return &Player{cfg: cfg, join: join, now: join}
}

// Publish reports that the origin published seg. Segments must come in
// increasing seq order (gaps are allowed: a missing seq counts as one target
// duration of media, except before a NewEpoch segment); a repeated seq is ignored.
func (p *Player) Publish(seg Segment) error {
	if seg.Duration <= 0 {
		return fmt.Errorf("%w: seq %d: %v", ErrDuration, seg.Seq, seg.Duration)
	}
	var start time.Duration
	if n := len(p.segs); n > 0 {
		last := p.segs[n-1]
		switch {
		case seg.Seq == last.Seq:
			return nil
		case seg.Seq < last.Seq:
			return fmt.Errorf("%w: seq %d after %d", ErrOutOfOrder, seg.Seq, last.Seq)
		}
		start = last.start + last.Duration
		if !seg.NewEpoch {
			start += time.Duration(seg.Seq-last.Seq-1) * p.targetDuration()
		}
	}
	p.segs = append(p.segs, segment{Segment: seg, start: start})
	p.gen++
	return nil
}

// Available reports that segment seq was completely downloaded (and verified)
// at time at. Unknown or repeated reports are ignored.
func (p *Player) Available(seq uint64, at time.Time) {
	if i, ok := p.find(seq); ok && p.segs[i].avail.IsZero() {
		p.segs[i].avail = at
	}
}

// Advance runs the model up to now: startup, playback, stalls, resumptions.
// Reports (Publish, Available) should precede the Advance that passes their
// time; a late Available still counts from its own timestamp.
func (p *Player) Advance(now time.Time) {
	before := p.shape()
	p.advance(now)
	if p.shape() != before {
		p.gen++
	}
}

func (p *Player) advance(now time.Time) {
	if now.Before(p.now) {
		return
	}
	if p.v.finished {
		p.now = now
		return
	}
	if !p.decided && !p.decide(now) {
		p.now = now
		return
	}
	t := p.now
	if !p.playing {
		i, _ := p.find(p.cur)
		s := p.segs[i]
		avail, ok := p.playable(i, now)
		if !ok {
			p.now = now
			return
		}
		p.playing = true
		t = later(avail, p.join)
		if p.v.seeking {
			t = p.seeked(avail)
		} else {
			p.playFrom = t
			p.stats.Started = true
			p.stats.StartSeq = s.Seq
			p.stats.Startup = t.Sub(p.join)
		}
		p.sample(t, s, s.start+p.offset)
	}
	for t.Before(now) {
		if p.stalled {
			i, ok := p.after(p.cur)
			if !ok {
				break // the next segment is not even published
			}
			s := p.segs[i]
			if s.avail.IsZero() || s.avail.After(now) {
				break
			}
			resume := later(s.avail, p.stallAt)
			if resume.Equal(p.stallAt) {
				p.stats.Stalls-- // reported late, but it was there in time
			} else {
				p.stats.Stalled += resume.Sub(p.stallAt)
			}
			p.stalled = false
			p.cur, p.offset, t = s.Seq, 0, resume
			p.sample(t, s, s.start)
			continue
		}
		i, _ := p.find(p.cur)
		s := p.segs[i]
		end := t.Add(s.Duration - p.offset)
		if end.After(now) {
			p.offset += now.Sub(t)
			t = now
			break
		}
		// Played to the end: on to the next segment if it is complete.
		t = end
		p.stats.Played++
		p.offset = s.Duration
		j, ok := p.after(p.cur)
		if !ok && p.v.ended {
			p.finish()
			break
		}
		if !ok || p.segs[j].avail.IsZero() || p.segs[j].avail.After(t) {
			p.stalled = true
			p.stallAt = t
			p.stats.Stalls++
			continue
		}
		p.cur, p.offset = p.segs[j].Seq, 0
		p.sample(t, p.segs[j], p.segs[j].start)
	}
	p.now = now
	p.prune()
}

// decide picks the start position the way hls.js does on its first playlist:
// the live edge minus LiveSyncCount target durations, in the playlist the
// player saw when it joined (or the first one published after).
func (p *Player) decide(now time.Time) bool {
	if len(p.segs) == 0 {
		return false
	}
	if p.v.vod {
		return p.decideVOD()
	}
	cutoff := later(p.join, p.segs[0].Published) // joined before the stream began?
	if cutoff.After(now) {
		return false
	}
	last := 0
	for i, s := range p.segs {
		if s.Published.After(cutoff) {
			break
		}
		last = i
	}
	edge := p.segs[last].start + p.segs[last].Duration
	pos := max(p.segs[0].start, edge-time.Duration(p.cfg.LiveSyncCount)*p.targetDuration())
	i := last
	for i > 0 && p.segs[i].start > pos {
		i--
	}
	p.decided = true
	p.cur = p.segs[i].Seq
	p.offset = pos - p.segs[i].start
	return true
}

// Deadline is when the player needs segment seq: the wall time its playback
// would begin if nothing stalls from now on. ok is false for a segment the
// player will not play (before its start, already played) or that is not
// published yet, and before the start position is decided. A segment needed
// at once (startup, stall) has the model's current time as deadline.
func (p *Player) Deadline(seq uint64) (time.Time, bool) {
	if !p.decided {
		return time.Time{}, false
	}
	i, ok := p.find(seq)
	if !ok || seq < p.cur || (seq == p.cur && p.playing) {
		return time.Time{}, false
	}
	c, _ := p.find(p.cur)
	var base time.Duration // media position needed at p.now
	switch {
	case !p.playing:
		base = p.segs[c].start
		if p.v.vod {
			return p.vodWaitDeadline(i, c)
		}
	case p.stalled:
		j, _ := p.after(p.cur)
		base = p.segs[j].start
	default:
		base = p.segs[c].start + p.offset
	}
	return p.now.Add(p.segs[i].start - base), true
}

// Playhead is the segment being played (or awaited at startup or in a stall)
// and whether playback has a position yet.
func (p *Player) Playhead() (seq uint64, ok bool) {
	if !p.decided {
		return 0, false
	}
	if p.stalled {
		if i, ok := p.after(p.cur); ok {
			return p.segs[i].Seq, true
		}
		return p.cur + 1, true
	}
	return p.cur, true
}

// Stalled reports whether playback is stalled, waiting for the next segment.
func (p *Player) Stalled() bool { return p.stalled }

// Stats returns what was measured up to the last Advance.
func (p *Player) Stats() Stats {
	st := p.stats
	if p.stats.Started { // a seek pauses playing, not watching
		st.Watched = p.now.Sub(p.playFrom)
		if p.stalled {
			st.Stalled += p.now.Sub(p.stallAt)
		}
		if st.Watched > 0 {
			st.RebufferRatio = float64(st.Stalled) / float64(st.Watched)
		}
	}
	return st
}

// LatencySamples returns a copy of the latency samples kept (at most
// Config.MaxSamples, oldest first).
func (p *Player) LatencySamples() []time.Duration {
	if len(p.samples) < p.cfg.MaxSamples {
		return slices.Clone(p.samples)
	}
	return append(slices.Clone(p.samples[p.next:]), p.samples[:p.next]...)
}

// sample records the live latency at wall time t for media position pos in
// segment s: how long ago that frame was at the origin's live edge, i.e.
// t − (published(s) − (end(s) − pos)). Right after a publication it equals the
// newest segment's end minus the playhead; unlike that difference it does not
// saw-tooth with the publication rhythm, and it counts startup and stalls.
func (p *Player) sample(t time.Time, s segment, pos time.Duration) {
	if p.v.vod {
		return // no live edge to lag behind
	}
	l := max(0, t.Sub(s.Published)+s.start+s.Duration-pos)
	p.stats.Latency = l
	p.stats.LatencyMax = max(p.stats.LatencyMax, l)
	if len(p.samples) < p.cfg.MaxSamples {
		p.samples = append(p.samples, l)
		return
	}
	p.samples[p.next] = l
	p.next = (p.next + 1) % len(p.samples)
}

// prune drops segments well behind the playhead so memory stays bounded.
func (p *Player) prune() {
	const keep = 4
	if p.v.vod {
		return // a seek may go anywhere in the title
	}
	i, ok := p.find(p.cur)
	if !ok || i <= keep {
		return
	}
	p.segs = slices.Delete(p.segs, 0, i-keep)
}

func (p *Player) targetDuration() time.Duration {
	if p.cfg.TargetDuration > 0 {
		return p.cfg.TargetDuration
	}
	var m time.Duration
	for _, s := range p.segs {
		m = max(m, s.Duration)
	}
	return (m + time.Second - 1).Truncate(time.Second)
}

// find is the index of seq in segs.
func (p *Player) find(seq uint64) (int, bool) {
	if i := p.hint; i < len(p.segs) && p.segs[i].Seq == seq {
		return i, true // the playhead's segment: most lookups
	}
	i, ok := slices.BinarySearchFunc(p.segs, seq, func(s segment, seq uint64) int {
		switch {
		case s.Seq < seq:
			return -1
		case s.Seq > seq:
			return 1
		}
		return 0
	})
	if ok && seq == p.cur {
		p.hint = i
	}
	return i, ok
}

// after is the index of the first published segment after seq.
func (p *Player) after(seq uint64) (int, bool) {
	i, found := p.find(seq)
	if found {
		i++
	}
	return i, i < len(p.segs)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
