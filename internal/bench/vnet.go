package bench

import (
	"math/rand/v2"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// The virtual network models what internal/transport/emulated does, as
// events: each host has an access link (up and down bandwidth, one-way
// latency, loss); frames queue on the sender's uplink (one FIFO for all its
// links), travel for the sum of both ends' latencies, then share the
// receiver's downlink (cut-through); a lost transmission is sent again after
// 2 × latency + vMinRTO, at the head of the uplink, so loss shows up as
// delay and extra upload, never as a missing frame. A link end holds at most
// vSendBuffer bytes in flight: its writer waits beyond it, and a PIECE is
// answered PieceSent when the writer has handed it to the link, as the real
// writer's Send returns.
const (
	vMinRTO     = 200 * time.Millisecond
	vSendBuffer = 256 << 10 // as the real bench's emulated hosts
)

type vhost struct {
	up, down   float64 // bit/s
	latency    time.Duration
	loss       float64
	upQ        []*vframe // waiting for the uplink, FIFO over all links
	upBusy     bool
	downFreeAt int64
}

// vframe is one frame on a link: its encoded bytes, or (identity mode) the
// message itself and its encoded size.
type vframe struct {
	from    *vend
	size    int
	enc     []byte
	msg     wire.Msg
	upStart int64 // when its (last) transmission began
}

// vend is one end of a link, owned by viewer v.
type vend struct {
	id          engine.LinkID
	v           *vviewer
	host        *vhost // v's: one load less on every frame
	peer        *vend
	closed      bool
	outstanding int
	ctrlQ       []*vframe
	pieceQ      []*vframe
}

type vnet struct {
	q        *vqueue
	rng      *rand.Rand
	identity bool   // carry messages, not bytes
	enc      []byte // frameSize's buffer
	nextLink engine.LinkID
	ends     []*vend // by LinkID while open: a Send's lookup
	// Link byte counters (payload bytes of frames), as the emulated network's.
	sent, received, dropped int64
}

func serialNS(n int, bps float64) int64 {
	if bps <= 0 {
		return 0
	}
	return int64(float64(n*8) / bps * float64(time.Second))
}

// connect makes a link between a and b and returns both ends.
func (n *vnet) connect(a, b *vviewer) (*vend, *vend) {
	n.nextLink++
	ea := &vend{id: n.nextLink, v: a, host: a.host}
	n.nextLink++
	eb := &vend{id: n.nextLink, v: b, host: b.host}
	ea.peer, eb.peer = eb, ea
	n.ends = append(n.ends, make([]*vend, int(n.nextLink)+1-len(n.ends))...)
	n.ends[ea.id], n.ends[eb.id] = ea, eb
	return ea, eb
}

// end is link id's end if it is open.
func (n *vnet) end(id engine.LinkID) *vend {
	if id >= engine.LinkID(len(n.ends)) {
		return nil
	}
	return n.ends[id]
}

// send queues m on end e's writer.
func (n *vnet) send(e *vend, m wire.Msg) {
	if e.closed {
		return
	}
	f := &vframe{from: e}
	if n.identity {
		f.msg, f.size = m, n.frameSize(m)
	} else {
		f.enc = wire.Encode(nil, m)
		f.size = len(f.enc)
	}
	if _, ok := m.(wire.Piece); ok {
		e.pieceQ = append(e.pieceQ, f)
	} else {
		e.ctrlQ = append(e.ctrlQ, f)
	}
	n.pump(e)
}

// frameSize is the encoded size of m, encoded into a reused buffer and
// without a piece's bytes.
func (n *vnet) frameSize(m wire.Msg) int {
	extra := 0
	if p, ok := m.(wire.Piece); ok {
		extra = len(p.Data)
		p.Data = nil
		m = p
	}
	n.enc = wire.Encode(n.enc[:0], m)
	return len(n.enc) + extra
}

// pump moves frames from e's writer onto its host's uplink while the
// link's window allows: control frames first, as the real writer.
func (n *vnet) pump(e *vend) {
	h := e.host
	defer n.kickUp(h)
	for !e.closed {
		var f *vframe
		switch {
		case len(e.ctrlQ) > 0:
			f = e.ctrlQ[0]
		case len(e.pieceQ) > 0:
			f = e.pieceQ[0]
		default:
			return
		}
		if e.outstanding > 0 && e.outstanding+f.size > vSendBuffer {
			return
		}
		piece := len(e.ctrlQ) == 0
		if piece {
			e.pieceQ[0] = nil
			e.pieceQ = e.pieceQ[1:]
		} else {
			e.ctrlQ[0] = nil
			e.ctrlQ = e.ctrlQ[1:]
		}
		e.outstanding += f.size
		n.sent += int64(f.size)
		h.upQ = append(h.upQ, f)
		if piece {
			v, id := e.v, e.id
			n.q.next(func() { v.step(engine.PieceSent{Link: id}) })
		}
	}
}

// kickUp starts transmitting the head of h's uplink if idle.
func (n *vnet) kickUp(h *vhost) {
	for !h.upBusy && len(h.upQ) > 0 {
		f := h.upQ[0]
		h.upQ[0] = nil
		h.upQ = h.upQ[1:]
		if f.from.closed {
			n.dropped += int64(f.size)
			continue
		}
		f.upStart = n.q.now
		d := serialNS(f.size, h.up)
		if d <= 0 {
			n.upDone(h, f)
			continue
		}
		h.upBusy = true
		n.q.atNS(n.q.now+d, func() {
			h.upBusy = false
			n.upDone(h, f)
			n.kickUp(h)
		})
	}
}

// upDone: f left h's uplink: lost (sent again after an RTO, at the head of
// the uplink) or on its way to the receiver's downlink. The downlink is
// reserved here, when the last bit left, in the order transmissions end:
// reserving it when a frame is queued would let a frame stuck behind a slow
// uplink's backlog hold the receiver's downlink for everyone.
func (n *vnet) upDone(h *vhost, f *vframe) {
	e := f.from
	if e.closed || e.peer.closed {
		n.dropped += int64(f.size)
		return
	}
	r := e.peer.host
	lat := int64(h.latency + r.latency)
	if loss := 1 - (1-h.loss)*(1-r.loss); loss > 0 && n.rng.Float64() < loss {
		n.q.atNS(n.q.now+2*lat+int64(vMinRTO), func() {
			h.upQ = append([]*vframe{f}, h.upQ...)
			n.kickUp(h)
		})
		return
	}
	// Cut-through: the downlink starts as the first bit arrives, and
	// finishes no earlier than the last bit arrives.
	first := max(f.upStart+lat, r.downFreeAt)
	deliver := max(first+serialNS(f.size, r.down), n.q.now+lat)
	r.downFreeAt = deliver
	n.q.atNS(deliver, func() { n.arrive(f) })
}

// arrive hands f to the receiving viewer.
func (n *vnet) arrive(f *vframe) {
	e := f.from
	dst := e.peer
	e.outstanding -= f.size
	if dst.closed || e.closed {
		n.dropped += int64(f.size)
		return
	}
	n.received += int64(f.size)
	n.pump(e)
	m := f.msg
	if !n.identity {
		var err error
		if m, err = wire.Decode(f.enc); err != nil {
			dst.v.step(engine.LinkDown{Link: dst.id, Err: err})
			return
		}
	}
	dst.v.step(engine.FrameReceived{Link: dst.id, Msg: m})
}

// close closes both ends of e's link; the other viewer learns at once, as
// an emulated link's reader does.
func (n *vnet) close(e *vend) {
	if e.closed {
		return
	}
	e.closed = true
	p := e.peer
	n.ends[e.id], n.ends[p.id] = nil, nil
	if !p.closed {
		p.closed = true
		v, id := p.v, p.id
		n.q.next(func() { v.linkDown(id) })
	}
}
