package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// DefaultStartGrace is Config.StartGrace's default: a holder's busy backlog
// (busyBacklog) and then as much again to send the pieces it took
// (docs/peer.md "Startup from the swarm").
const DefaultStartGrace = 2 * busyBacklog

// start is the start from the swarm: at the first plan that has the start
// segment's record, each connected holder that serves now is asked for as
// many of its pieces as its busy backlog takes at its declared upload,
// the last pieces first; every other piece comes from the edge at once, and
// what a holder refuses, or has not sent when its request times out or the
// grace ends, from the edge then. The zero value has decided nothing.
type start struct {
	decided bool
	seq     uint64
	until   time.Time // end of the grace; zero: nothing was asked of neighbours
}

// startFromSwarm decides the start once and, during the grace, fetches from
// the edge the start segment's pieces nobody is sending and moves its
// deadline in st so that the plan keeps the holders' requests until the
// grace ends. st.Policy must be final.
func (e *Engine) startFromSwarm(st *scheduler.State, now time.Time) {
	sp := &e.start
	if !sp.decided {
		if e.cfg.StartGrace < 0 || !st.Policy.P2P || e.pl.Steady() || e.vod.on {
			sp.decided = true
			return
		}
		head, ok := e.pl.Playhead()
		first := e.segs[head]
		if !ok || first == nil || first.rec == nil || first.complete {
			return // not yet: no record to ask by
		}
		sp.decided, sp.seq = true, head
		if e.askStart(first, now) {
			sp.until = now.Add(e.cfg.StartGrace)
		}
	}
	if sp.until.IsZero() || !now.Before(sp.until) {
		return
	}
	s := e.segs[sp.seq]
	if s == nil || s.rec == nil {
		return // left the window
	}
	for i := range st.Segments {
		if st.Segments[i].Seq == sp.seq {
			st.Segments[i].Deadline = sp.until.Add(st.Policy.WithDefaults().Handover)
		}
	}
	for i := 0; i < s.pieces(); {
		if s.have.Has(i) || e.pending.asked(sp.seq, i) {
			i++
			continue
		}
		j := i + 1
		for j < s.pieces() && !s.have.Has(j) && !e.pending.asked(sp.seq, j) {
			j++
		}
		r := scheduler.Run{From: scheduler.Edge, Seq: sp.seq, First: i, Count: j - i, Why: scheduler.ReasonUrgent}
		e.countEdge(*st, r)
		e.fetchEdge(r, now)
		i = j
	}
}

// askStart asks the holders of s for its pieces (see start) and reports
// whether it asked any.
func (e *Engine) askStart(s *segment, now time.Time) bool {
	asked := false
	for _, nb := range e.nbList {
		if !nb.hello || !nb.servesNow(now) {
			continue
		}
		bf := nb.have.Get(s.id.Seq)
		quota := int(busyBacklog.Seconds() * float64(nb.upKbps) * 1000 / 8 / float64(s.rec.PieceSize))
		hi := -1 // pieces (i, hi] are one run to ask for
		for i := s.pieces() - 1; i >= -1 && (quota > 0 || hi >= 0); i-- {
			if i >= 0 && quota > 0 && bf.Has(i) && !s.have.Has(i) && !e.pending.asked(s.id.Seq, i) {
				hi = max(hi, i)
				quota--
				continue
			}
			if hi >= 0 {
				e.request(nb, s, i+1, hi-i, now)
				asked, hi = true, -1
			}
		}
	}
	return asked
}
