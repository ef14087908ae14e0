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
	// Blocked: a missing piece has holders but none could take a request
	// (choking or at its in-flight bound), so a request completing can
	// change the plan before Wake.
	Blocked bool
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
	asked       bool          // this plan requests from it
	key         uint64        // keyOf(ID)
}

// keyOf is a hash of a neighbour id (FNV-1a) that finds it without
// comparing id bytes with every other neighbour's.
func keyOf(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return h
}

// timeoutFor is how long a request to ns may take with its outstanding
// requests ahead of it: TimeoutFactor × the expected transfer time.
func (ns *nbState) timeoutFor(pol Policy) time.Duration {
	ahead := float64(ns.outstanding) * DefaultPieceSize / ns.tput
	exp := ns.RTT + time.Duration(ahead*float64(time.Second))
	return max(pol.MinTimeout, time.Duration(pol.TimeoutFactor*float64(exp)))
}

// fallbackBlock pieces share one hashed edge-fallback moment, so a fallback is
// one Range request of up to 128 KiB rather than eight of 16 KiB.
const fallbackBlock = 8

// Schedule decides what to fetch, from where, and what to cancel. It is a pure
// function of st.
func Schedule(st State) Plan { return new(Scratch).Schedule(st) }

// Scratch is the working memory of plans made one after another: a plan
// made with it is Schedule's, but its slices (and the Plan's) are reused by
// the next. The zero value is ready; one Scratch serves one goroutine.
type Scratch struct {
	order      []*Segment
	states     []nbState
	nbList     []*nbState
	flat       []Bitfield
	haves      [][]Bitfield
	pendNb     []*nbState
	inflight   []pend
	covered    []Bitfield
	words      []uint64
	cands      []cand
	edge       []edgePick
	pieces     []int
	reqs       []req
	picks      []pick
	flatPieces []int
	plan       Plan
}

type pend struct {
	Pending
	ns *nbState
}

// cand is a missing piece that neighbours can serve now.
type cand struct {
	seg   *Segment
	si    int // position in order
	piece int
	avail int
	tie   uint64
}

// edgePick is a piece of order[si] to fetch from the edge, and why.
type edgePick struct {
	si    int
	why   Reason
	piece int
}

// req: pieces for one (neighbour, segment), in the order first chosen.
type req struct {
	from   string
	seq    uint64
	pieces []int
	n      int
}

type pick struct{ r, piece int }

// bits returns an empty bitfield for n pieces cut from sc.words.
func (sc *Scratch) bits(n int) Bitfield {
	w := (n + 63) / 64
	if n <= 0 {
		return nil
	}
	at := len(sc.words)
	sc.words = append(sc.words, make([]uint64, w)...)
	return sc.words[at : at+w : at+w]
}

// Schedule is the package's Schedule with sc's memory.
func (sc *Scratch) Schedule(st State) Plan {
	pol := st.Policy.WithDefaults()
	now := st.Now
	self := idHash(st.Self)
	plan := Plan{Edge: sc.plan.Edge[:0], Requests: sc.plan.Requests[:0], Cancels: sc.plan.Cancels[:0]}
	defer func() { sc.plan = plan }()
	sc.words = sc.words[:0]
	wake := func(t time.Time) {
		if t.After(now) && (plan.Wake.IsZero() || t.Before(plan.Wake)) {
			plan.Wake = t
		}
	}

	order := sc.order[:0]
	for i := range st.Segments {
		s := &st.Segments[i]
		if !slices.ContainsFunc(order, func(o *Segment) bool { return o.Seq == s.Seq }) {
			order = append(order, s)
		}
	}
	sc.order = order
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

	states := slices.Grow(sc.states[:0], len(st.Neighbours)) // never grown: nbList points into it
	nbList := sc.nbList[:0]
	// nbOf finds a neighbour by id (and its keyOf): a neighbourhood is a
	// few dozen at most, so a scan beats building a map for every plan.
	nbOf := func(id string, key uint64) *nbState {
		for _, ns := range nbList {
			if ns.key == key && ns.ID == id {
				return ns
			}
		}
		return nil
	}
	for i := range st.Neighbours {
		n := &st.Neighbours[i]
		key := keyOf(n.ID)
		if n.ID == Edge || n.NoUpload || nbOf(n.ID, key) != nil {
			continue
		}
		states = append(states, nbState{Neighbour: n, key: key, tput: n.Throughput})
		ns := &states[len(states)-1]
		if ns.tput <= 0 {
			ns.tput = pol.DefaultThroughput
		}
		nbList = append(nbList, ns)
	}
	sc.states, sc.nbList = states, nbList
	// haves[si][j]: what neighbour nbList[j] announced of segment order[si],
	// looked up once rather than for every piece.
	flat := resize(sc.flat, len(order)*len(nbList))
	haves := resize(sc.haves, len(order))
	sc.flat, sc.haves = flat, haves
	for si, s := range order {
		haves[si] = flat[si*len(nbList) : (si+1)*len(nbList) : (si+1)*len(nbList)]
		for j, ns := range nbList {
			haves[si][j] = ns.Have.Get(s.Seq)
		}
	}
	// pendNb[k]: the neighbour of st.InFlight[k] (nil: the edge or gone).
	pendNb := resize(sc.pendNb, len(st.InFlight))
	sc.pendNb = pendNb
	for k, pd := range st.InFlight {
		if pd.From == Edge {
			continue
		}
		if ns := nbOf(pd.From, keyOf(pd.From)); ns != nil {
			pendNb[k] = ns
			ns.outstanding++
		}
	}
	for _, ns := range nbList {
		ns.timeout = ns.timeoutFor(pol)
		bytes := ns.tput * (ns.RTT + pol.QueueTarget).Seconds()
		ns.limit = min(pol.MaxOutstanding, max(2, int(math.Ceil(bytes/DefaultPieceSize))))
	}

	// In-flight requests: keep what is still useful, cancel the rest. Edge
	// requests go first so that a neighbour request duplicating one is the
	// loser; within a source the oldest request is kept.
	inflight := resize(sc.inflight, len(st.InFlight))
	sc.inflight = inflight
	for k, pd := range st.InFlight {
		inflight[k] = pend{pd, pendNb[k]}
	}
	slices.SortStableFunc(inflight, func(a, b pend) int {
		ae, be := a.From == Edge, b.From == Edge
		if ae != be {
			if ae {
				return -1
			}
			return 1
		}
		return a.Since.Compare(b.Since)
	})
	covered := resize(sc.covered, len(order)) // pieces in flight that stay, per segment
	sc.covered = covered
	for si, s := range order {
		covered[si] = sc.bits(s.Pieces())
	}
	var avoid map[pieceKey]string // made on the first write: most plans avoid nobody
	avoidPiece := func(k pieceKey, from string) {
		if avoid == nil {
			avoid = make(map[pieceKey]string)
		}
		avoid[k] = from
	}
	for _, p := range inflight {
		pd, ns := p.Pending, p.ns
		k := pieceKey{pd.Seq, pd.Piece}
		var s *Segment
		si := segAt(pd.Seq)
		if si >= 0 {
			s = order[si]
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
	cands := sc.cands[:0]
	edge := sc.edge[:0] // in order of si, then piece
	seeding := pol.P2P && !pol.NoUpload && pol.Stripe.Count > 0 &&
		pol.Stripe.Index >= 0 && pol.Stripe.Index < pol.Stripe.Count
	for si, s := range order {
		n := s.Pieces()
		// Pieces some neighbour announced: the others need no look at each.
		anyHave := sc.bits(n)
		for _, h := range haves[si] {
			for w := range min(len(h), len(anyHave)) {
				anyHave[w] |= h[w]
			}
		}
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
				edge = append(edge, edgePick{si, ReasonP2POff, i})
				continue
			case urgent:
				edge = append(edge, edgePick{si, ReasonUrgent, i})
				continue
			}
			wake(ua)
			avail, held, announced := 0, false, false
			if anyHave.Has(i) {
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
			}
			// Our stripe comes from the edge at once unless a neighbour
			// announced it: after a reassignment two peers may briefly own
			// one stripe, and the one that learns of the segment later pulls
			// what the other seeded.
			if seedable && !announced && StripeOf(s.Seq, i, n, pol.Stripe.Count) == pol.Stripe.Index {
				edge = append(edge, edgePick{si, ReasonSeed, i})
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
			edge = append(edge, edgePick{si, ReasonFallback, i})
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
	reqs, picks := sc.reqs[:0], sc.picks[:0]
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
			plan.Blocked = true
			continue // all holders busy: retry on the next event
		}
		best.outstanding++
		best.asked = true
		r := slices.IndexFunc(reqs, func(r req) bool { return r.from == best.ID && r.seq == c.seg.Seq })
		if r < 0 {
			reqs = append(reqs, req{from: best.ID, seq: c.seg.Seq})
			r = len(reqs) - 1
		}
		reqs[r].n++
		picks = append(picks, pick{r, c.piece})
	}
	sc.cands, sc.edge, sc.reqs, sc.picks = cands, edge, reqs, picks
	// The requests made now time out as the next plan will see them.
	for _, ns := range nbList {
		if ns.asked {
			wake(now.Add(ns.timeoutFor(pol)))
		}
	}
	// Each request's pieces, in the order chosen, cut from one slice.
	flatPieces, off := resize(sc.flatPieces, len(picks)), 0
	sc.flatPieces = flatPieces
	for r := range reqs {
		reqs[r].pieces, off = flatPieces[off:off:off+reqs[r].n], off+reqs[r].n
	}
	for _, p := range picks {
		reqs[p.r].pieces = append(reqs[p.r].pieces, p.piece)
	}

	for lo := 0; lo < len(edge); { // edge[lo:hi]: the picks of one segment
		si, hi := edge[lo].si, lo
		for hi < len(edge) && edge[hi].si == si {
			hi++
		}
		for why := ReasonP2POff; why <= ReasonFallback; why++ {
			pieces := sc.pieces[:0]
			for _, p := range edge[lo:hi] {
				if p.why == why {
					pieces = append(pieces, p.piece)
				}
			}
			sc.pieces = pieces
			plan.Edge = appendRuns(plan.Edge, Edge, order[si].Seq, why, pieces)
		}
		lo = hi
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

// resize returns b with length n, its first n elements zero, reusing its
// memory when it has room.
func resize[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}
