package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Session limits of docs/wire.md.
const (
	maxEarlyFrames = 64
	helloTimeout   = 10 * time.Second
	overCapBackoff = 150 * time.Millisecond // a little more than the uploader needs to drain its busyBacklog
	tputAlpha      = 0.2
)

// neighbour is one connected peer. The loop owns it.
type neighbour struct {
	id    string
	s     *session
	k     *link
	since time.Time

	hello   bool
	helloBy time.Time
	early   []wire.Msg
	upKbps  uint32

	have map[uint64]scheduler.Bitfield // what it announced, per seq

	chokesUs  bool   // it chokes us (initially true)
	serialIn  uint32 // last CHOKE/UNCHOKE serial applied
	serialOut uint32
	weChoke   bool
	busyUntil time.Time // REJECT over_cap: leave it alone until then

	tput     float64 // bytes/s it delivers to us (EWMA)
	lastRecv time.Time
	rtt      time.Duration

	pingToken uint32
	pingSent  time.Time
	lastPong  time.Time
}

func (p *Peer) onLinkUp(ctx context.Context, ev evLinkUp, now time.Time) {
	id := ev.l.RemoteID()
	switch {
	case ev.s != p.sess, p.distrust[id], !p.p2p(), len(p.nbs) >= p.cfg.MaxNeighbours:
		ev.l.Close()
		return
	}
	if old := p.nbs[id]; old != nil {
		p.dropNeighbour(old, "replaced")
	}
	nb := &neighbour{id: id, s: ev.s, since: now, helloBy: now.Add(helloTimeout), chokesUs: true, weChoke: true,
		have: make(map[uint64]scheduler.Bitfield)}
	nb.k = newLink(ctx, ev.l, &p.up, p.cfg.tamper, func(n int) { p.bytesUp.Add(int64(n)) })
	p.nbs[id] = nb
	go nb.k.writeLoop()
	go p.readLoop(ctx, nb)
	kbps := uint32(min(p.cfg.UploadCapacity/1000, 1<<32-1))
	if !p.uploads() {
		kbps = 0
	}
	p.sendTo(nb, wire.Hello{MaxVersion: wire.Version, Stream: p.cfg.Stream, Rendition: p.cfg.Rendition, PeerID: ev.s.id, UploadKbps: kbps})
}

// readLoop decodes frames from nb and hands them to the loop. A frame that
// does not decode (other than an unknown type) is a protocol violation.
func (p *Peer) readLoop(ctx context.Context, nb *neighbour) {
	for {
		b, err := nb.k.l.Recv(nb.k.ctx)
		if err != nil {
			p.post(ctx, evLinkDown{nb: nb})
			return
		}
		m, err := wire.Decode(b)
		if errors.Is(err, wire.ErrUnknownType) {
			continue
		}
		if err != nil {
			p.post(ctx, evLinkDown{nb: nb, err: err})
			return
		}
		if !p.post(ctx, evFrame{nb: nb, msg: m}) {
			return
		}
	}
}

// sendTo queues a control frame to nb; a neighbour whose queue is full is
// dropped (it does not read).
func (p *Peer) sendTo(nb *neighbour, m wire.Msg) {
	if !nb.k.send(m) {
		p.dropNeighbour(nb, "send queue full")
	}
}

func (p *Peer) dropNeighbour(nb *neighbour, why string) {
	if p.nbs[nb.id] != nb {
		return
	}
	p.log.Debug("peer: neighbour gone", "peer", nb.id, "why", why)
	delete(p.nbs, nb.id)
	nb.k.close()
	for k := range p.pending {
		if k.from == nb.id {
			delete(p.pending, k)
		}
	}
}

// violation closes nb for a protocol violation: not reconnected this session.
func (p *Peer) violation(nb *neighbour, format string, args ...any) {
	p.log.Info("peer: protocol violation", "peer", nb.id, "err", fmt.Sprintf(format, args...))
	p.distrust[nb.id] = true
	p.dropNeighbour(nb, "protocol violation")
}

func (p *Peer) onFrame(nb *neighbour, m wire.Msg, now time.Time) {
	if !nb.hello {
		h, ok := m.(wire.Hello)
		if !ok {
			if len(nb.early) >= maxEarlyFrames {
				p.violation(nb, "more than %d frames before HELLO", maxEarlyFrames)
				return
			}
			nb.early = append(nb.early, m)
			return
		}
		if h.Stream != p.cfg.Stream || h.Rendition != p.cfg.Rendition || h.PeerID != nb.id {
			p.violation(nb, "wrong swarm HELLO %s/%s from %q", h.Stream, h.Rendition, h.PeerID)
			return
		}
		nb.hello, nb.upKbps = true, h.UploadKbps
		for _, seq := range p.order {
			if s := p.segs[seq]; s.verified > 0 {
				p.sendTo(nb, s.wireBitfield())
			}
		}
		if p.uploads() {
			nb.serialOut++
			nb.weChoke = false
			p.sendTo(nb, wire.Unchoke{Serial: nb.serialOut})
		}
		early := nb.early
		nb.early = nil
		for _, em := range early {
			if p.nbs[nb.id] != nb {
				return
			}
			p.onFrame(nb, em, now)
		}
		return
	}
	switch m := m.(type) {
	case wire.Hello:
		p.violation(nb, "second HELLO")
	case wire.BitfieldMsg:
		p.onBitfield(nb, m, now)
	case wire.Have:
		if bf, ok := p.announced(nb, m.Segment, int(m.First+m.Count)); ok {
			nb.have[m.Segment.Seq] = growSet(bf, int(m.First), int(m.Count))
			p.announcedNew(m.Segment.Seq, now)
		}
	case wire.Request:
		p.onRequest(nb, m)
	case wire.Piece:
		p.onPiece(nb, m, now)
	case wire.Cancel:
		nb.k.cancelJobs(&m.Segment, int(m.First), int(m.Count))
	case wire.Reject:
		p.onReject(nb, m, now)
	case wire.Choke:
		if m.Serial > nb.serialIn {
			nb.serialIn, nb.chokesUs = m.Serial, true
			for k := range p.pending {
				if k.from == nb.id {
					delete(p.pending, k) // void: re-requested elsewhere
				}
			}
		}
	case wire.Unchoke:
		if m.Serial > nb.serialIn {
			nb.serialIn, nb.chokesUs = m.Serial, false
		}
	case wire.Ping:
		p.sendTo(nb, wire.Pong{Token: m.Token})
	case wire.Pong:
		if m.Token == nb.pingToken && !nb.pingSent.IsZero() {
			nb.rtt, nb.lastPong = now.Sub(nb.pingSent), now
		}
	}
}

// announced returns nb's map for segment id if an announcement up to piece
// end is acceptable: our segment of that seq has that epoch and at least that
// many pieces, or (a segment we do not list yet) it is not too far ahead.
func (p *Peer) announced(nb *neighbour, id wire.SegmentID, end int) (scheduler.Bitfield, bool) {
	if s := p.segs[id.Seq]; s != nil {
		if s.id.Epoch != id.Epoch || (s.rec != nil && end > s.pieces()) {
			return nil, false
		}
		return nb.have[id.Seq], true
	}
	n := len(p.order)
	if n == 0 || id.Seq < p.order[0] || id.Seq > p.order[n-1]+maxFutureSegs {
		return nil, false
	}
	return nb.have[id.Seq], true
}

// announcedNew pokes the playlist poller when a neighbour announced a segment
// newer than any we list: its playlist is fresher, and the sooner we know the
// segment (and fetch its record) the sooner we can pull it.
func (p *Peer) announcedNew(seq uint64, now time.Time) {
	if n := len(p.order); n > 0 && seq > p.order[n-1] {
		p.pokePoller(now)
	}
}

func (p *Peer) onBitfield(nb *neighbour, m wire.BitfieldMsg, now time.Time) {
	if m.Pieces == 0 {
		delete(nb.have, m.Segment.Seq)
		return
	}
	if s := p.segs[m.Segment.Seq]; s != nil && s.id.Epoch == m.Segment.Epoch && s.rec != nil && int(m.Pieces) != s.pieces() {
		p.violation(nb, "BITFIELD of %s has %d pieces, record %d", m.Segment, m.Pieces, s.pieces())
		return
	}
	bf, ok := p.announced(nb, m.Segment, int(m.Pieces))
	if !ok {
		return
	}
	p.announcedNew(m.Segment.Seq, now)
	for i := range int(m.Pieces) {
		if m.Bits.Has(i) {
			bf = growSet(bf, i, 1)
		}
	}
	nb.have[m.Segment.Seq] = bf
}

func (p *Peer) onRequest(nb *neighbour, m wire.Request) {
	reject := func(first, count int, r wire.Reason) {
		p.sendTo(nb, wire.Reject{Segment: m.Segment, First: uint32(first), Count: uint32(count), Reason: r})
	}
	first, count := int(m.First), int(m.Count)
	if nb.weChoke {
		reject(first, count, wire.ReasonChoked)
		return
	}
	s := p.segs[m.Segment.Seq]
	if s == nil || s.id.Epoch != m.Segment.Epoch || s.rec == nil {
		reject(first, count, wire.ReasonUnknownSegment)
		return
	}
	var jobs []upJob
	runStart := -1
	for i := first; i <= first+count; i++ {
		held := i < first+count && s.have.Has(i)
		if held {
			seeded := p.stripe.Count > 0 && scheduler.StripeOf(s.id.Seq, i, s.pieces(), p.stripe.Count) == p.stripe.Index
			jobs = append(jobs, upJob{seg: s, idx: i, seeded: seeded})
		}
		missing := i < first+count && !held
		switch {
		case missing && runStart < 0:
			runStart = i
		case !missing && runStart >= 0:
			reject(runStart, i-runStart, wire.ReasonNotHeld)
			runStart = -1
		}
	}
	if len(jobs) > 0 {
		// Over the cap: refuse the held pieces that did not fit, in contiguous runs.
		jobs = jobs[nb.k.enqueue(jobs):]
		for j := 0; j < len(jobs); {
			k := j + 1
			for k < len(jobs) && jobs[k].idx == jobs[k-1].idx+1 {
				k++
			}
			reject(jobs[j].idx, k-j, wire.ReasonOverCap)
			j = k
		}
	}
}

func (p *Peer) onPiece(nb *neighbour, m wire.Piece, now time.Time) {
	idx := int(m.Index)
	key := pendKey{m.Segment.Seq, idx, nb.id}
	since, requested := p.pending[key]
	delete(p.pending, key)
	s := p.segs[m.Segment.Seq]
	if s == nil || s.id.Epoch != m.Segment.Epoch || s.rec == nil {
		p.bytesWasted.Add(int64(len(m.Data))) // out of our window, cannot verify it: dropped
		return
	}
	stored, err := s.store(idx, m.Data)
	if err != nil {
		p.badPiece(nb, s, idx, err)
		return
	}
	if requested {
		start := since
		if nb.lastRecv.After(start) {
			start = nb.lastRecv
		}
		if dt := now.Sub(start).Seconds(); dt > 0 {
			sample := float64(len(m.Data)) / dt
			if nb.tput == 0 {
				nb.tput = sample
			} else {
				nb.tput += tputAlpha * (sample - nb.tput)
			}
			nb.tput = min(max(nb.tput, 32<<10), 64<<20)
		}
	}
	nb.lastRecv = now
	if !stored {
		if requested {
			p.bytesDup.Add(int64(len(m.Data))) // two sources raced for it
		} else {
			p.bytesWasted.Add(int64(len(m.Data))) // cancelled or timed out, then arrived
		}
		return
	}
	p.bytesP2P.Add(int64(len(m.Data)))
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		if dl, ok := p.deadline(s, now); ok {
			p.log.Debug("peer: piece", "seq", s.id.Seq, "piece", idx, "from", nb.id, "lead_ms", dl.Sub(now).Milliseconds(), "wait_ms", now.Sub(since).Milliseconds())
		}
	}
	p.verified(s, idx, now)
}

// badPiece handles a piece that failed verification: drop it, drop and report
// the sender, never use it again this session. The piece stays missing, so the
// scheduler fetches it elsewhere (the edge when its deadline is near).
func (p *Peer) badPiece(nb *neighbour, s *segment, idx int, err error) {
	p.badPieces.Add(1)
	p.log.Warn("peer: bad piece from neighbour", "peer", nb.id, "segment", s.id, "piece", idx, "err", err)
	p.distrust[nb.id] = true
	if p.sess != nil && nb.s == p.sess {
		p.sess.queue(&tracker.Report{Peer: nb.id, Segment: s.id.String(), Piece: idx, Reason: "hash_mismatch"})
	}
	p.dropNeighbour(nb, "bad piece")
}

func (p *Peer) onReject(nb *neighbour, m wire.Reject, now time.Time) {
	first, count := int(m.First), int(m.Count)
	s := p.segs[m.Segment.Seq]
	if s == nil || s.id.Epoch != m.Segment.Epoch {
		return
	}
	for i := first; i < first+count; i++ {
		delete(p.pending, pendKey{m.Segment.Seq, i, nb.id})
	}
	switch m.Reason {
	case wire.ReasonNotHeld:
		clearRange(nb.have[m.Segment.Seq], first, count)
	case wire.ReasonChoked:
		nb.chokesUs = true
	case wire.ReasonUnknownSegment:
		delete(nb.have, m.Segment.Seq)
	default: // over_cap and unknown reasons: back off for a while
		nb.busyUntil = now.Add(overCapBackoff)
	}
}
