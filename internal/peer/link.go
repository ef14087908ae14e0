package peer

import (
	"context"
	"errors"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// ctrlQueue bounds the control frames queued per link; beyond it the link is
// closed (a neighbour that does not read its frames is stuck).
const ctrlQueue = 512

// link is one neighbour's connection: a reader that decodes frames for the
// core, and a writer that sends control frames first, then the one piece the
// core's upload line gave it (answered PieceSent once sent).
type link struct {
	id     engine.LinkID
	l      transport.Link
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   chan []byte
	piece  chan wire.Piece // the core hands out one at a time
	tamper func(wire.SegmentID, int, []byte) []byte
	post   func(engine.Event) bool
}

func newLink(id engine.LinkID, l transport.Link, tamper func(wire.SegmentID, int, []byte) []byte, post func(engine.Event) bool) *link {
	ctx, cancel := context.WithCancel(context.Background())
	return &link{id: id, l: l, ctx: ctx, cancel: cancel, ctrl: make(chan []byte, ctrlQueue),
		piece: make(chan wire.Piece, 2), tamper: tamper, post: post}
}

// send queues a frame; false if the queue is full (the caller closes the link).
func (k *link) send(m wire.Msg) bool {
	if pc, ok := m.(wire.Piece); ok {
		select {
		case k.piece <- pc:
			return true
		default:
			return false
		}
	}
	select {
	case k.ctrl <- wire.Encode(nil, m):
		return true
	default:
		return false
	}
}

// close ends the writer, the reader and the transport link.
func (k *link) close() {
	k.cancel()
	k.l.Close()
}

// readLoop decodes frames and hands them to the core. A frame that does not
// decode (other than an unknown type) is a protocol violation.
func (k *link) readLoop() {
	for {
		b, err := k.l.Recv(k.ctx)
		if err != nil {
			k.post(engine.LinkDown{Link: k.id})
			return
		}
		m, err := wire.Decode(b)
		if errors.Is(err, wire.ErrUnknownType) {
			continue
		}
		if err != nil {
			k.post(engine.LinkDown{Link: k.id, Err: err})
			return
		}
		if !k.post(engine.FrameReceived{Link: k.id, Msg: m}) {
			return
		}
	}
}

// writeLoop sends control frames, then pieces, until the link closes.
func (k *link) writeLoop() {
	defer k.close()
	buf := make([]byte, 0, wire.MaxFrameSize)
	for {
		select {
		case f := <-k.ctrl:
			if k.l.Send(k.ctx, f) != nil {
				return
			}
			continue
		case <-k.ctx.Done():
			return
		default:
		}
		select {
		case f := <-k.ctrl:
			if k.l.Send(k.ctx, f) != nil {
				return
			}
		case pc := <-k.piece:
			if k.tamper != nil {
				pc.Data = k.tamper(pc.Segment, int(pc.Index), append([]byte(nil), pc.Data...))
			}
			buf = wire.Encode(buf[:0], pc)
			if k.l.Send(k.ctx, buf) != nil {
				return
			}
			if !k.post(engine.PieceSent{Link: k.id}) {
				return
			}
		case <-k.ctx.Done():
			return
		}
	}
}
