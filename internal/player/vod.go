package player

import (
	"errors"
	"time"
)

// ErrNotVOD is returned by Seek on a live stream.
var ErrNotVOD = errors.New("player: seek needs an on-demand title")

// vodState is the on-demand side of a Player. Its zero value is live
// playback, as before: the model becomes on-demand when StartVOD is called
// before the start position was decided.
//
// On demand, playback starts at Config.Start instead of behind the live edge,
// nothing is pruned (a seek may go anywhere, and a title's segment list is
// small: 3,600 entries for two hours of 2 s segments), no latency is sampled,
// a seek makes the segment at the new position due now, and reaching the end
// of an ended playlist finishes playback rather than stalling.
type vodState struct {
	vod      bool
	ended    bool // the playlist ended: no segment will follow the last
	finished bool // played to the end of an ended playlist
	seeking  bool // waiting for the segment at a seek's position
	seekAt   time.Time

	seekSamples []time.Duration // bounded by Config.MaxSamples, oldest dropped
}

// StartVOD makes p an on-demand player: call it once the playlist is known
// to be a title (it ended) and before the first Advance that has segments.
// It reports whether it applied (false once playback has a position).
func (p *Player) StartVOD() bool {
	if p.decided {
		return false
	}
	p.v.vod = true
	p.gen++
	return true
}

// VOD reports whether p plays on demand.
func (p *Player) VOD() bool { return p.v.vod }

// End reports that the playlist ended (#EXT-X-ENDLIST): reaching its last
// segment finishes playback. A stall already waiting for a segment after the
// last one is undone (it was the end, not a stall).
func (p *Player) End() {
	if p.v.ended {
		return
	}
	p.v.ended = true
	p.gen++
	if p.stalled {
		if _, ok := p.after(p.cur); !ok {
			p.stalled = false
			p.stats.Stalls--
			p.finish()
		}
	}
}

// Seek moves the playhead to media position pos (from the title's start) at
// now: the segment holding pos is due at once and playback resumes, from pos,
// when it is available. Before playback started it moves the start position.
// A position past the end goes to the last segment.
func (p *Player) Seek(now time.Time, pos time.Duration) error {
	if !p.v.vod {
		return ErrNotVOD
	}
	p.Advance(now)
	p.gen++
	if !p.decided {
		p.cfg.Start = pos
		return nil
	}
	if p.stalled {
		p.stats.Stalled += max(0, now.Sub(p.stallAt))
		p.stalled = false
	}
	i := p.at(pos)
	p.cur, p.offset = p.segs[i].Seq, max(0, min(pos, p.segs[i].start+p.segs[i].Duration-1)-p.segs[i].start)
	p.v.finished, p.stats.Finished = false, false
	if p.playing {
		p.playing = false
		p.v.seeking = true
		p.v.seekAt = now
		p.stats.Seeks++
	}
	return nil
}

// Position is the playhead's media position, from the title's start (or
// the stream's first segment published while we watched).
func (p *Player) Position() time.Duration {
	if !p.decided {
		return p.cfg.Start
	}
	i, _ := p.find(p.cur)
	return p.segs[i].start + p.offset
}

// SeekSamples returns a copy of the seek times kept (oldest first).
func (p *Player) SeekSamples() []time.Duration {
	return append([]time.Duration(nil), p.v.seekSamples...)
}

// Evicted reports that segment seq is no longer held (a byte budget dropped
// it): a later seek to it waits for it again.
func (p *Player) Evicted(seq uint64) {
	if i, ok := p.find(seq); ok {
		p.segs[i].avail = time.Time{}
	}
}

// decideVOD starts at Config.Start.
func (p *Player) decideVOD() bool {
	i := p.at(p.cfg.Start)
	p.decided = true
	p.cur = p.segs[i].Seq
	p.offset = max(0, min(p.cfg.Start-p.segs[i].start, p.segs[i].Duration-1))
	return true
}

// vodWaitDeadline is Deadline of segs[i] while waiting (startup, seek) at
// segs[c]: that one is due now, and playback will begin p.offset into it,
// so the next is due its remaining duration later, not a whole one (a start
// or seek near a segment's end needs the next segment almost at once).
func (p *Player) vodWaitDeadline(i, c int) (time.Time, bool) {
	if i == c {
		return p.now, true
	}
	return p.now.Add(p.segs[i].start - p.segs[c].start - p.offset), true
}

// minAhead: playback of a title begins (startup, seek) only with this much media
// available past the position. A media element cannot play less than a frame or two
// (HTML's HAVE_FUTURE_DATA; hls.js treats gaps under 0.1 s as holes), so a seek 24 ms
// before a segment's end waits for the next segment too, rather than playing 24 ms
// and stalling.
const minAhead = 100 * time.Millisecond

// playable reports when playback can begin at segs[i] (the segment waited for) and
// whether it can by now: when it is available, and on a title with less than
// minAhead of it left to play, the next one too.
func (p *Player) playable(i int, now time.Time) (time.Time, bool) {
	s := p.segs[i]
	if s.avail.IsZero() || s.avail.After(now) {
		return time.Time{}, false
	}
	if !p.v.vod || s.Duration-p.offset >= minAhead {
		return s.avail, true
	}
	j, ok := p.after(s.Seq)
	if !ok { // the title's last segment
		return s.avail, true
	}
	n := p.segs[j]
	if n.avail.IsZero() || n.avail.After(now) {
		return time.Time{}, false
	}
	return later(s.avail, n.avail), true
}

// seeked ends the seek whose segment became available at avail and returns
// when playback resumed.
func (p *Player) seeked(avail time.Time) time.Time {
	t := later(avail, p.v.seekAt)
	d := t.Sub(p.v.seekAt)
	p.v.seeking = false
	p.stats.SeekTime = d
	p.stats.SeekSum += d
	if len(p.v.seekSamples) >= p.cfg.MaxSamples {
		p.v.seekSamples = p.v.seekSamples[1:]
	}
	p.v.seekSamples = append(p.v.seekSamples, d)
	return t
}

func (p *Player) finish() {
	p.v.finished = true
	p.stats.Finished = true
}

// at is the index of the segment holding media position pos (the first or
// the last segment for positions outside the list). segs must not be empty.
func (p *Player) at(pos time.Duration) int {
	i := len(p.segs) - 1
	for i > 0 && p.segs[i].start > pos {
		i--
	}
	return i
}
