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
	upFreeAt   int64 // when the uplink has sent everything queued
	downFreeAt int64
}

// vframe is one frame on a link: its encoded bytes, or (identity mode) the
// message itself and its encoded size.
type vframe struct {
	from *vend
	size int
	enc  []byte
	msg  wire.Msg
}

// vend is one end of a link, owned by viewer v.
type vend struct {
	id          engine.LinkID
	v           *vviewer
	peer        *vend
	closed      bool
	outstanding int
	ctrlQ       []*vframe
	pieceQ      []*vframe
}

type vnet struct {
	q        *vqueue
	rng      *rand.Rand
	identity bool // carry messages, not bytes
	nextLink engine.LinkID
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
	ea := &vend{id: n.nextLink, v: a}
	n.nextLink++
	eb := &vend{id: n.nextLink, v: b}
	ea.peer, eb.peer = eb, ea
	return ea, eb
}

// send queues m on end e's writer.
func (n *vnet) send(e *vend, m wire.Msg) {
	if e.closed {
		return
	}
	f := &vframe{from: e}
	if n.identity {
		f.msg, f.size = m, frameSize(m)
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

// frameSize is the encoded size of m without encoding a piece's bytes.
func frameSize(m wire.Msg) int {
	if p, ok := m.(wire.Piece); ok {
		data := p.Data
		p.Data = nil
		return len(wire.Encode(nil, p)) + len(data)
	}
	return len(wire.Encode(nil, m))
}

// pump moves frames from e's writer onto its host's uplink while the
// link's window allows: control frames first, as the real writer.
func (n *vnet) pump(e *vend) {
	h := e.v.host
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
		n.transmit(h, f)
		if piece {
			v, id := e.v, e.id
			n.q.next(func() { v.step(engine.PieceSent{Link: id}) })
		}
	}
}

// transmit puts f on h's uplink: the uplink is a FIFO for all of h's links,
// so f's transmission starts when the uplink is free (upFreeAt) and takes
// its serialisation time; no event is needed until it arrives. A lost
// transmission is sent again 2 × latency + vMinRTO after it ended (behind
// what the uplink holds then: emulated puts it at the head; with loss of a
// percent the difference is a frame's serialisation now and then).
func (n *vnet) transmit(h *vhost, f *vframe) {
	e := f.from
	r := e.peer.v.host
	lat := int64(h.latency + r.latency)
	start := max(n.q.now, h.upFreeAt)
	end := start + serialNS(f.size, h.up)
	h.upFreeAt = end
	if loss := 1 - (1-h.loss)*(1-r.loss); loss > 0 && n.rng.Float64() < loss {
		n.q.atNS(end+2*lat+int64(vMinRTO), func() {
			if e.closed || e.peer.closed {
				n.dropped += int64(f.size)
				return
			}
			n.transmit(h, f)
		})
		return
	}
	// Cut-through: the downlink starts as the first bit arrives, and
	// finishes no earlier than the last bit arrives.
	first := max(start+lat, r.downFreeAt)
	deliver := max(first+serialNS(f.size, r.down), end+lat)
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
	if !p.closed {
		p.closed = true
		v, id := p.v, p.id
		n.q.next(func() { v.linkDown(id) })
	}
}
