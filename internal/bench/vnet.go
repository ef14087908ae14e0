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
// receiver's downlink (cut-through) in the order they reach it; a lost
// transmission is sent again after 2 × latency + vMinRTO, at the head of
// the uplink, so loss shows up as delay and extra upload, never as a
// missing frame. A link end holds at most vSendBuffer bytes unacknowledged
// (a frame is acknowledged a round trip after its last bit left): its
// writer waits beyond it, and a PIECE is answered PieceSent when the writer
// has handed it to the link, as the real writer's Send returns. Each step
// runs as an event of the viewer whose state it changes (vpart.go).
const (
	vMinRTO     = 200 * time.Millisecond
	vSendBuffer = 256 << 10 // as the real bench's emulated hosts
)

// vhost is a viewer's access link.
type vhost struct {
	up, down   float64 // bit/s
	latency    time.Duration
	loss       float64
	rng        *rand.Rand // loss draws of what it sends
	upQ        []*vframe  // waiting for the uplink, FIFO over all links
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
	outstanding int    // bytes handed to the link and not yet acknowledged
	acks        []vack // transmitted, acknowledged at their time
	ackWake     bool   // a pump waits for acks[0]
	ctrlQ       []*vframe
	pieceQ      []*vframe
}

type vack struct {
	at   int64
	size int
}

// vnet is what every link shares: the frames' form.
type vnet struct {
	identity bool // carry messages, not bytes
}

func serialNS(n int, bps float64) int64 {
	if bps <= 0 {
		return 0
	}
	return int64(float64(n*8) / bps * float64(time.Second))
}

// lat is the one-way latency of e's link (immutable hosts' figures).
func (e *vend) lat() int64 { return int64(e.host.latency + e.peer.host.latency) }

// send queues m on end e's writer.
func (n *vnet) send(e *vend, m wire.Msg) {
	if e.closed {
		return
	}
	f := &vframe{from: e}
	if n.identity {
		f.msg, f.size = m, e.v.p.frameSize(m)
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
func (p *vpart) frameSize(m wire.Msg) int {
	extra := 0
	if pc, ok := m.(wire.Piece); ok {
		extra = len(pc.Data)
		pc.Data = nil
		m = pc
	}
	p.enc = wire.Encode(p.enc[:0], m)
	return len(p.enc) + extra
}

// pump moves frames from e's writer onto its host's uplink while the
// link's window allows: control frames first, as the real writer.
func (n *vnet) pump(e *vend) {
	v, h := e.v, e.host
	now := v.p.q.now
	for len(e.acks) > 0 && e.acks[0].at <= now {
		e.outstanding -= e.acks[0].size
		e.acks = e.acks[1:]
	}
	defer n.kickUp(v, h)
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
			n.waitAck(e)
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
		v.p.sent += int64(f.size)
		h.upQ = append(h.upQ, f)
		if piece {
			id := e.id
			v.p.q.next(func() { v.step(engine.PieceSent{Link: id}) })
		}
	}
}

// waitAck pumps e again when its oldest transmitted frame is acknowledged
// (upDone calls it again when nothing transmitted is waiting for one yet).
func (n *vnet) waitAck(e *vend) {
	if e.ackWake || len(e.acks) == 0 {
		return
	}
	e.ackWake = true
	e.v.at(e.acks[0].at, func() {
		e.ackWake = false
		n.pump(e)
	})
}

// kickUp starts transmitting the head of h's uplink if idle.
func (n *vnet) kickUp(v *vviewer, h *vhost) {
	for !h.upBusy && len(h.upQ) > 0 {
		f := h.upQ[0]
		h.upQ[0] = nil
		h.upQ = h.upQ[1:]
		if f.from.closed {
			v.p.dropped += int64(f.size)
			continue
		}
		f.upStart = v.p.q.now
		d := serialNS(f.size, h.up)
		if d <= 0 {
			n.upDone(v, h, f)
			continue
		}
		h.upBusy = true
		v.at(v.p.q.now+d, func() {
			h.upBusy = false
			n.upDone(v, h, f)
			n.kickUp(v, h)
		})
	}
}

// upDone: f left h's uplink: lost (sent again after an RTO, at the head of
// the uplink) or on its way to the receiver's downlink, which it reaches
// one latency later (reserve).
func (n *vnet) upDone(v *vviewer, h *vhost, f *vframe) {
	e := f.from
	if e.closed {
		v.p.dropped += int64(f.size)
		return
	}
	now, lat := v.p.q.now, e.lat()
	if loss := 1 - (1-h.loss)*(1-e.peer.host.loss); loss > 0 && h.rng.Float64() < loss {
		v.at(now+2*lat+int64(vMinRTO), func() {
			h.upQ = append([]*vframe{f}, h.upQ...)
			n.kickUp(v, h)
		})
		return
	}
	e.acks = append(e.acks, vack{now + 2*lat, f.size})
	if len(e.ctrlQ)+len(e.pieceQ) > 0 {
		n.waitAck(e)
	}
	dst := e.peer
	v.toViewer(dst.v, now+lat, func() { n.reserve(dst, f) })
}

// reserve: f's last bit reached dst's downlink, which carries it after what
// it already carries (cut-through: it started as its first bit arrived).
func (n *vnet) reserve(dst *vend, f *vframe) {
	v := dst.v
	if dst.closed {
		v.p.dropped += int64(f.size)
		return
	}
	r, now := dst.host, v.p.q.now
	first := max(f.upStart+dst.lat(), r.downFreeAt)
	deliver := max(first+serialNS(f.size, r.down), now)
	r.downFreeAt = deliver
	if deliver == now {
		n.arrive(dst, f)
		return
	}
	v.at(deliver, func() { n.arrive(dst, f) })
}

// arrive hands f to the receiving viewer.
func (n *vnet) arrive(dst *vend, f *vframe) {
	v := dst.v
	if dst.closed {
		v.p.dropped += int64(f.size)
		return
	}
	v.p.received += int64(f.size)
	m := f.msg
	if !n.identity {
		var err error
		if m, err = wire.Decode(f.enc); err != nil {
			v.step(engine.LinkDown{Link: dst.id, Err: err})
			return
		}
	}
	v.step(engine.FrameReceived{Link: dst.id, Msg: m})
}

// close closes e; the other end learns a latency later, as from a FIN.
func (n *vnet) close(e *vend) {
	if e.closed {
		return
	}
	e.closed = true
	closeLater(e.v, e.peer, e.v.p.q.now+e.lat())
}

// closeLater closes end p at t, in its viewer's time, from viewer from.
func closeLater(from *vviewer, p *vend, t int64) {
	from.toViewer(p.v, t, func() {
		if !p.closed {
			p.closed = true
			p.v.linkDown(p.id)
		}
	})
}
