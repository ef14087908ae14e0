package engine

import (
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// On-demand defaults (docs/vod.md "Playback").
const (
	// DefaultBufferGoal: how far ahead of the playhead segments are wanted
	// (hls.js's maxBufferLength is 30 s).
	DefaultBufferGoal = 30 * time.Second
	// DefaultKeepBytes: what a viewer keeps of a title it watched, for its
	// neighbours (a shoal peer; the browser SDK keeps less).
	DefaultKeepBytes = 256 << 20
	// vodEdgeAhead: incomplete segments scheduled at once with P2P off.
	vodEdgeAhead = 2
	// vodFallbackWindow: a piece no neighbour holds comes from the edge at a
	// per-peer hashed moment this long before it turns urgent (live: 500 ms).
	// Viewers at one position then fetch in turn over seconds, not all within
	// half a second, and the later ones pull what the first fetched. Virtual
	// time, 30 viewers, 30 s, seed 1: vod-flash offload 70.7% (500 ms), 84.7%
	// (3 s), 83.0% (6 s), 80.4% (10 s); vod 34.5% / 33.8% (500 ms / 3 s).
	vodFallbackWindow = 3 * time.Second
)

// VODConfig tunes on-demand playback; the zero value takes the defaults. It
// applies when the first playlist is an ended one (#EXT-X-ENDLIST: a title
// or a replay); a live stream ignores it.
type VODConfig struct {
	// Start is the media position playback begins at (0: the title's start).
	Start time.Duration
	// BufferGoal: segments due within it are scheduled (default 30 s); the
	// scheduler still takes each from neighbours or the edge by its own
	// deadline, so the goal bounds the look-ahead, not what is fetched early.
	BufferGoal time.Duration
	// KeepBytes bounds the segment bytes held (default 256 MiB): beyond it
	// the segments furthest from the playhead are dropped and withdrawn.
	// Those within the buffer goal ahead are never dropped.
	KeepBytes int64
}

func (c VODConfig) withDefaults() VODConfig {
	if c.BufferGoal <= 0 {
		c.BufferGoal = DefaultBufferGoal
	}
	if c.KeepBytes <= 0 {
		c.KeepBytes = DefaultKeepBytes
	}
	return c
}

// Seek: the viewer moved the playhead to media position Pos of a title. The
// segment there is due now; what the old position wanted is cancelled (it
// leaves the scheduler's window, so its requests are).
type Seek struct{ Pos time.Duration }

func (Seek) event() {}

// vodState is the engine's on-demand side; its zero value is live.
//
// A title seeds nothing (schedPolicy drops the stripe): live seeding spreads
// the one fresh segment everyone is about to need, but viewers of a title
// are spread over it, so a seeder would fetch its stripe of every segment of
// its buffer goal for neighbours that mostly play elsewhere (measured: a
// third of the hybrid run's edge pieces, and stalls where those fetches held
// the downlink). A piece nobody near us holds comes from the edge at the
// scheduler's hashed fallback moment, so among viewers at one position one
// goes first and the others pull from it.
type vodState struct {
	on       bool      // the first playlist had ended: a title
	ended    bool      // the playlist ended: stop polling, keep the window
	goalWake time.Time // the next segment enters the buffer goal
	window   []uint64  // the seqs from the playhead to the buffer goal (of order)
	held     int64     // segment bytes held, as of the last budget check
}

// VOD reports whether the engine plays an on-demand title.
func (e *Engine) VOD() bool { return e.vod.on }

// SeekSamples are the player model's seek times (oldest first).
func (e *Engine) SeekSamples() []time.Duration { return e.pl.SeekSamples() }

// vodPlaylist applies an ended playlist: the first one makes this a title
// (the player starts at VOD.Start); any one ends polling, and nothing leaves
// the window any more (every segment stays listed).
func (e *Engine) vodPlaylist(ended bool) {
	if !ended || e.vod.ended {
		return
	}
	e.vod.ended = true
	if len(e.order) == 0 && e.pl.StartVOD() {
		e.vod.on = true // the player starts at Player.Start = VOD.Start
	}
	e.pl.End()
}

// onSeek moves the player model; a seek on a live stream is ignored.
func (e *Engine) onSeek(ev Seek, now time.Time) {
	if err := e.pl.Seek(now, ev.Pos); err != nil {
		e.log.Info("engine: seek", "err", err)
		return
	}
	e.recScan = true
}

// vodDemand follows a local player on a title: a segment it asks for that
// is not where the model plays (behind the playhead or past the buffer
// goal) is a seek there.
func (e *Engine) vodDemand(seq uint64, now time.Time) {
	if !e.vod.on {
		return
	}
	s := e.segs[seq]
	if s == nil {
		return
	}
	if dl, ok := e.pl.Deadline(seq); ok && !dl.After(now.Add(e.cfg.VOD.BufferGoal)) {
		return
	}
	if head, ok := e.pl.Playhead(); ok && seq == head {
		return
	}
	var pos time.Duration
	for _, q := range e.order {
		if q == seq {
			break
		}
		pos += e.segs[q].dur
	}
	e.onSeek(Seek{Pos: pos}, now)
}

// wanted is what record fetches and plans look at: live, the whole window;
// a title, the segments from the playhead to the buffer goal (as of the last
// Ready: a seek moves it at the next), not the whole title at every Ready.
func (e *Engine) wanted() []uint64 {
	if !e.vod.on {
		return e.order
	}
	return e.vod.window
}

// vodPolicy is the scheduler's policy on a title: no seeding (above), and a
// wider staggered fallback (vodFallbackWindow, unless the caller set one).
func vodPolicy(pol scheduler.Policy) scheduler.Policy {
	pol.Stripe = scheduler.Stripe{}
	if pol.FallbackWindow <= 0 {
		pol.FallbackWindow = vodFallbackWindow
	}
	return pol
}

// scheduled is what a plan looks at: wanted, except that with P2P off a
// title is buffered vodEdgeAhead segments at a time, as a player does
// (hls.js loads one fragment after another), not the whole buffer goal at
// once, which would share the downlink between a dozen segments and delay
// the one due first. The cut counts segments whose record has not come yet,
// so that a record arriving late never pushes a segment in flight out of the
// plan (its fetch would be cancelled and made again: duplicates).
func (e *Engine) scheduled() []uint64 {
	w := e.wanted()
	if !e.vod.on || e.p2p() {
		return w
	}
	n := 0
	for i, seq := range w {
		if e.segs[seq].complete {
			continue
		}
		if n++; n > vodEdgeAhead {
			return w[:i]
		}
	}
	return w
}

// holdBack reports whether a segment due at dl waits out a title's startup, seek or
// stall: while the player waits, only what is due within the urgent window is
// scheduled, so that pulls of later segments do not share the downlink with the
// edge fetches the player waits for (a seek 24 ms before a segment's end needs
// that segment and the next at once; virtual time, vod, 100 viewers: that was
// v63's stall, with pieces of the segment after them arriving from neighbours).
// CDN-only keeps a player's fetch pattern (scheduled, vodEdgeAhead).
func (e *Engine) holdBack(dl, now time.Time) bool {
	return e.vod.on && e.p2p() && !e.pl.Steady() && dl.After(now.Add(e.urgent))
}

// inGoal reports whether a segment due at dl is wanted now: always live; on
// demand within the buffer goal.
func (e *Engine) inGoal(dl time.Time) bool {
	return !e.vod.on || !dl.After(e.lastReady.Add(e.cfg.VOD.BufferGoal))
}

// vodReady runs after the player model advanced: when the next segment
// enters the buffer goal (a Wake), and the byte budget.
func (e *Engine) vodReady(now time.Time) {
	if !e.vod.on {
		return
	}
	e.vod.goalWake, e.vod.window = time.Time{}, nil
	head, ok := e.pl.Playhead()
	if !ok {
		return
	}
	i, _ := slices.BinarySearch(e.order, head)
	j := i
	for ; j < len(e.order); j++ {
		dl, ok := e.pl.Deadline(e.order[j])
		if ok && dl.After(now.Add(e.cfg.VOD.BufferGoal)) {
			e.vod.goalWake = dl.Add(-e.cfg.VOD.BufferGoal)
			break
		}
	}
	e.vod.window = e.order[i:j]
	if !e.vod.goalWake.IsZero() && !e.vod.goalWake.After(now) {
		e.vod.goalWake = time.Time{}
	}
	e.recScan = true // a segment may have entered the goal
}

// keepBudget drops segment data beyond VOD.KeepBytes, furthest from the
// playhead first (behind it: what was watched longest ago; ahead: past the
// goal), and withdraws it from neighbours. It runs with housekeeping.
func (e *Engine) keepBudget(now time.Time) {
	var held int64
	for _, seq := range e.order {
		held += e.segs[seq].heldBytes()
	}
	e.vod.held = held
	if held <= e.cfg.VOD.KeepBytes {
		return
	}
	head, ok := e.pl.Playhead()
	if !ok {
		return
	}
	type cand struct {
		seq  uint64
		dist uint64
	}
	var cands []cand
	for _, seq := range e.order {
		s := e.segs[seq]
		if s.verified == 0 {
			continue
		}
		if seq >= head {
			if dl, ok := e.pl.Deadline(seq); !ok || !dl.After(now.Add(e.cfg.VOD.BufferGoal)) {
				continue // due within the goal (or being played): never dropped
			}
			cands = append(cands, cand{seq, seq - head})
			continue
		}
		cands = append(cands, cand{seq, head - seq})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			if a.dist > b.dist {
				return -1
			}
			return 1
		}
		if a.seq < b.seq {
			return -1
		}
		return 1
	})
	for _, c := range cands {
		if held <= e.cfg.VOD.KeepBytes {
			break
		}
		s := e.segs[c.seq]
		held -= s.heldBytes()
		e.dropData(s)
	}
	e.vod.held = held
}

// heldBytes is what s holds of verified pieces.
func (s *segment) heldBytes() int64 {
	if s.verified == 0 {
		return 0
	}
	if s.complete {
		return s.rec.Size
	}
	var n int64
	for i := range s.pieces() {
		if s.have.Has(i) {
			n += s.pieceLen(i)
		}
	}
	return n
}

// dropData forgets what we hold of s but keeps it listed (a title's window
// never shrinks): neighbours are told (BITFIELD 0), its uploads and requests
// are cancelled, the shell drops its copy (Forget), and the player model
// waits for it again if it comes back to it.
func (e *Engine) dropData(s *segment) {
	for _, nb := range e.nbList {
		if nb.hello {
			e.send(nb, wire.BitfieldMsg{Segment: s.id})
		}
		if len(nb.queue) > 0 {
			e.up.cancel(nb, &s.id, 0, s.pieces())
		}
	}
	seq := s.id.Seq
	e.pending.delFunc(func(k pendKey) bool { return k.seq == seq })
	delete(e.newHave, seq)
	n := s.pieces()
	s.data = make([][]byte, n)
	s.have = scheduler.NewBitfield(n)
	s.verified, s.complete = 0, false
	e.pl.Evicted(seq)
	e.stats.VODDropped++
	e.emit(Forget{ID: s.id})
}
