package scheduler

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Run is a contiguous run of pieces [First, First+Count) of segment Seq to
// fetch from one source: an HTTP Range request when From is Edge, else one
// REQUEST to that neighbour.
type Run struct {
	From  string
	Seq   uint64
	First int
	Count int
	// Why an edge run goes to the edge (zero for neighbour requests).
	Why Reason
}

// Reason says why pieces come from the edge. The values index
// peer.Stats.EdgePieces and appear in the shared golden vectors.
type Reason int

// Reasons, in the order a piece is checked against them.
const (
	ReasonNone     Reason = iota // a neighbour request
	ReasonP2POff                 // P2P off: everything comes from the edge
	ReasonUrgent                 // due within the urgent window
	ReasonSeed                   // our stripe, seeded for the swarm
	ReasonFallback               // no neighbour held it in time
)

// String names r in logs and vectors.
func (r Reason) String() string {
	switch r {
	case ReasonP2POff:
		return "p2p_off"
	case ReasonUrgent:
		return "urgent"
	case ReasonSeed:
		return "seed"
	case ReasonFallback:
		return "fallback"
	}
	return "none"
}

// Plan is what to do now. The engine issues Edge and Requests, sends Cancels
// (dropping them from its in-flight list), and calls Schedule again on the next
// event (a piece or HAVE arrives, a neighbour comes or goes, a new segment) or
// at Wake, whichever is first.
type Plan struct {
	Edge     []Run     // HTTP Range fetches, most urgent first
	Requests []Run     // neighbour REQUESTs, most urgent first
	Cancels  []Pending // in-flight requests to abandon
	// Wake is the next moment the plan changes with no new input (a timeout,
	// an edge fallback, a piece turning urgent); zero if none.
	Wake time.Time
}

type pieceKey struct {
	seq   uint64
	piece int
}

type nbState struct {
	*Neighbour
	tput        float64 // bytes/s
	outstanding int
	limit       int           // in-flight bound in pieces
	timeout     time.Duration // for a request to it
}

// fallbackBlock pieces share one hashed edge-fallback moment, so a fallback is
// one Range request of up to 128 KiB rather than eight of 16 KiB.
const fallbackBlock = 8

// Schedule decides what to fetch, from where, and what to cancel. It is a pure
// function of st.
func Schedule(st State) Plan {
	pol := st.Policy.WithDefaults()
	now := st.Now
	self := idHash(st.Self)
	var plan Plan
	wake := func(t time.Time) {
		if t.After(now) && (plan.Wake.IsZero() || t.Before(plan.Wake)) {
			plan.Wake = t
		}
	}

	order := make([]*Segment, 0, len(st.Segments))
	for i := range st.Segments {
		s := &st.Segments[i]
		if !slices.ContainsFunc(order, func(o *Segment) bool { return o.Seq == s.Seq }) {
			order = append(order, s)
		}
	}
	slices.SortFunc(order, func(a, b *Segment) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	// Segments by seq, as positions in order (a window holds a handful).
	segAt := func(seq uint64) int {
		for i, s := range order {
			if s.Seq == seq {
				return i
			}
		}
		return -1
	}
	urgentAt := func(s *Segment) time.Time { return s.Deadline.Add(-pol.Urgent) }

	states := make([]nbState, 0, len(st.Neighbours)) // never grown: nbList points into it
	nbList := make([]*nbState, 0, len(st.Neighbours))
	// nbOf finds a neighbour by id: a neighbourhood is a few dozen at most,
	// so a scan beats building a map for every plan.
	nbOf := func(id string) *nbState {
		for _, ns := range nbList {
			if ns.ID == id {
				return ns
			}
		}
		return nil
	}
	for i := range st.Neighbours {
		n := &st.Neighbours[i]
		if n.ID == Edge || n.NoUpload || nbOf(n.ID) != nil {
			continue
		}
		states = append(states, nbState{Neighbour: n, tput: n.Throughput})
		ns := &states[len(states)-1]
		if ns.tput <= 0 {
			ns.tput = pol.DefaultThroughput
		}
		nbList = append(nbList, ns)
	}
	// haves[si][j]: what neighbour nbList[j] announced of segment order[si],
	// looked up once rather than for every piece.
	flat := make([]Bitfield, len(order)*len(nbList))
	haves := make([][]Bitfield, len(order))
	for si, s := range order {
		haves[si] = flat[si*len(nbList) : (si+1)*len(nbList) : (si+1)*len(nbList)]
		for j, ns := range nbList {
			haves[si][j] = ns.Have[s.Seq]
		}
	}
	for _, pd := range st.InFlight {
		if pd.From == Edge {
			continue
		}
		if ns := nbOf(pd.From); ns != nil {
			ns.outstanding++
		}
	}
	for _, ns := range nbList {
		ahead := float64(ns.outstanding) * DefaultPieceSize / ns.tput
		exp := ns.RTT + time.Duration(ahead*float64(time.Second))
		ns.timeout = max(pol.MinTimeout, time.Duration(pol.TimeoutFactor*float64(exp)))
		bytes := ns.tput * (ns.RTT + pol.QueueTarget).Seconds()
		ns.limit = min(pol.MaxOutstanding, max(2, int(math.Ceil(bytes/DefaultPieceSize))))
	}

	// In-flight requests: keep what is still useful, cancel the rest. Edge
	// requests go first so that a neighbour request duplicating one is the
	// loser; within a source the oldest request is kept.
	inflight := slices.Clone(st.InFlight)
	slices.SortStableFunc(inflight, func(a, b Pending) int {
		ae, be := a.From == Edge, b.From == Edge
		if ae != be {
			if ae {
				return -1
			}
			return 1
		}
		return a.Since.Compare(b.Since)
	})
	covered := make([]Bitfield, len(order)) // pieces in flight that stay, per segment
	for si, s := range order {
		covered[si] = NewBitfield(s.Pieces())
	}
	var avoid map[pieceKey]string // made on the first write: most plans avoid nobody
	avoidPiece := func(k pieceKey, from string) {
		if avoid == nil {
			avoid = make(map[pieceKey]string)
		}
		avoid[k] = from
	}
	for _, pd := range inflight {
		k := pieceKey{pd.Seq, pd.Piece}
		var s *Segment
		si := segAt(pd.Seq)
		if si >= 0 {
			s = order[si]
		}
		var ns *nbState
		if pd.From != Edge {
			ns = nbOf(pd.From)
		}
		cancel := func() {
			plan.Cancels = append(plan.Cancels, pd)
			if ns != nil {
				ns.outstanding--
			}
		}
		switch {
		case s == nil || pd.Piece < 0 || pd.Piece >= s.Pieces() || s.Have.Has(pd.Piece):
			cancel() // played, expired, bogus or already here
		case pd.From == Edge:
			if covered[si].Has(pd.Piece) {
				cancel()
				continue
			}
			covered[si].Set(pd.Piece) // the edge is the safety net: never second-guessed
		case ns == nil || !pol.P2P:
			cancel()
		case covered[si].Has(pd.Piece):
			cancel() // duplicate of an edge or older request
		case !now.Before(s.Deadline.Add(-pol.Handover)):
			cancel() // P2P must never cause a stall: the edge takes over
			avoidPiece(k, pd.From)
		case now.Sub(pd.Since) >= ns.timeout:
			cancel() // re-issued below, elsewhere
			avoidPiece(k, pd.From)
		default:
			covered[si].Set(pd.Piece)
			wake(pd.Since.Add(ns.timeout))
			wake(s.Deadline.Add(-pol.Handover))
		}
	}

	// Missing pieces: edge now, a neighbour now, or wait.
	type cand struct {
		seg   *Segment
		si    int // position in order
		piece int
		avail int
		tie   uint64
	}
	var cands []cand
	// edge[si][why]: pieces of order[si] to fetch from the edge, by reason.
	edge := make([][ReasonFallback + 1][]int, len(order))
	seeding := pol.P2P && !pol.NoUpload && pol.Stripe.Count > 0 &&
		pol.Stripe.Index >= 0 && pol.Stripe.Index < pol.Stripe.Count
	for si, s := range order {
		n := s.Pieces()
		ua := urgentAt(s)
		urgent := !now.Before(ua)
		// Seeding applies while the stripe still has time to spread.
		seedable := seeding && now.Before(ua.Add(-pol.SeedMargin))
		for i := range n {
			if s.Have.Has(i) || covered[si].Has(i) {
				continue
			}
			k := pieceKey{s.Seq, i}
			switch {
			case !pol.P2P:
				edge[si][ReasonP2POff] = append(edge[si][ReasonP2POff], i)
				continue
			case urgent:
				edge[si][ReasonUrgent] = append(edge[si][ReasonUrgent], i)
				continue
			}
			wake(ua)
			avail, held, announced := 0, false, false
			for j, ns := range nbList {
				if !haves[si][j].Has(i) {
					continue
				}
				announced = true
				if len(avoid) > 0 && avoid[k] == ns.ID {
					continue
				}
				held = true // a busy (choking) holder will serve it soon enough
				if !ns.Choking {
					avail++
				}
			}
			// Our stripe comes from the edge at once unless a neighbour
			// announced it: after a reassignment two peers may briefly own
			// one stripe, and the one that learns of the segment later pulls
			// what the other seeded.
			if seedable && !announced && StripeOf(s.Seq, i, n, pol.Stripe.Count) == pol.Stripe.Index {
				edge[si][ReasonSeed] = append(edge[si][ReasonSeed], i)
				continue
			}
			if avail > 0 {
				cands = append(cands, cand{s, si, i, avail, pieceHash(self, s.Seq, i)})
				continue
			}
			if held {
				continue // wait for a holder to unchoke; the edge when urgent
			}
			// Nobody near us has it: fall back to the edge at a moment hashed
			// per peer, so that in a swarm one peer goes first and the others
			// get it from that peer instead.
			ft := ua
			if !pol.NoUpload {
				u := unit(pieceHash(self, s.Seq, -1-i/fallbackBlock))
				ft = ua.Add(-time.Duration((1 - u) * float64(pol.FallbackWindow)))
			}
			if now.Before(ft) {
				wake(ft)
				continue
			}
			edge[si][ReasonFallback] = append(edge[si][ReasonFallback], i)
		}
	}

	// Neighbour requests: deadline first, then rarest first; ties broken by a
	// per-peer hash so that neighbours of one holder ask for different pieces.
	slices.SortStableFunc(cands, func(a, b cand) int {
		if c := a.seg.Deadline.Compare(b.seg.Deadline); c != 0 {
			return c
		}
		if c := cmp.Compare(a.avail, b.avail); c != 0 {
			return c
		}
		return cmp.Compare(a.tie, b.tie)
	})
	// reqs: pieces per (neighbour, segment), in the order first chosen; a
	// plan asks a handful of neighbours, so a scan beats a map.
	type req struct {
		from   string
		seq    uint64
		pieces []int
	}
	var reqs []req
	for _, c := range cands {
		k := pieceKey{c.seg.Seq, c.piece}
		size := float64(c.seg.pieceLen(c.piece))
		var best *nbState
		var bestT float64
		for j, ns := range nbList {
			if ns.Choking || ns.outstanding >= ns.limit || !haves[c.si][j].Has(c.piece) || (len(avoid) > 0 && avoid[k] == ns.ID) {
				continue
			}
			t := ns.RTT.Seconds() + float64(ns.outstanding+1)*size/ns.tput
			if best == nil || t < bestT {
				best, bestT = ns, t
			}
		}
		if best == nil {
			continue // all holders busy: retry on the next event
		}
		best.outstanding++
		r := slices.IndexFunc(reqs, func(r req) bool { return r.from == best.ID && r.seq == c.seg.Seq })
		if r < 0 {
			reqs = append(reqs, req{from: best.ID, seq: c.seg.Seq})
			r = len(reqs) - 1
		}
		reqs[r].pieces = append(reqs[r].pieces, c.piece)
	}

	for si, s := range order {
		for why := ReasonP2POff; why <= ReasonFallback; why++ {
			plan.Edge = appendRuns(plan.Edge, Edge, s.Seq, why, edge[si][why])
		}
	}
	for _, r := range reqs {
		plan.Requests = appendRuns(plan.Requests, r.from, r.seq, ReasonNone, r.pieces)
	}
	return plan
}

// appendRuns sorts pieces and appends them as contiguous runs.
func appendRuns(runs []Run, from string, seq uint64, why Reason, pieces []int) []Run {
	if len(pieces) == 0 {
		return runs
	}
	slices.Sort(pieces)
	r := Run{From: from, Seq: seq, First: pieces[0], Count: 1, Why: why}
	for _, p := range pieces[1:] {
		if p == r.First+r.Count {
			r.Count++
			continue
		}
		runs = append(runs, r)
		r = Run{From: from, Seq: seq, First: p, Count: 1, Why: why}
	}
	return append(runs, r)
}
