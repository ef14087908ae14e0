package emulated

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// message is one message travelling from a link end to its peer.
type message struct {
	from    *Link
	data    []byte
	upStart time.Time // when its (last) transmission began
}

// Link is one end of an emulated link; it implements transport.Link.
type Link struct {
	host *Host
	peer *Link
	// sending side
	outstanding int // bytes sent and not yet in the peer's receive queue
	unsent      int // bytes sent and not yet transmitted successfully
	sendWake    chan struct{}
	// receiving side
	recvQ     [][]byte
	recvBytes int
	held      []*message // arrived while recvQ was full
	recvWake  chan struct{}
	closed    bool
	stats     Stats
}

var _ transport.Link = (*Link)(nil)

func newLink(h *Host) *Link {
	return &Link{host: h, sendWake: make(chan struct{}), recvWake: make(chan struct{})}
}

// RemoteID is the peer host's id.
func (l *Link) RemoteID() string { return l.peer.host.id }

// MaxMessageSize is the host's MaxMessage.
func (l *Link) MaxMessageSize() int { return l.host.cfg.MaxMessage }

// BufferedAmount is the bytes sent and not yet transmitted.
func (l *Link) BufferedAmount() int {
	l.host.net.mu.Lock()
	defer l.host.net.mu.Unlock()
	return l.unsent
}

// Stats is this end's byte counters.
func (l *Link) Stats() Stats {
	l.host.net.mu.Lock()
	defer l.host.net.mu.Unlock()
	return l.stats
}

// Send copies msg onto the sender's uplink queue, blocking while the link's
// window (HostConfig.SendBuffer) is full.
func (l *Link) Send(ctx context.Context, msg []byte) error {
	if len(msg) > l.MaxMessageSize() {
		return fmt.Errorf("emulated: send %d bytes: %w", len(msg), transport.ErrTooLarge)
	}
	n := l.host.net
	n.mu.Lock()
	for {
		if l.closed {
			n.mu.Unlock()
			return transport.ErrClosed
		}
		if l.outstanding == 0 || l.outstanding+len(msg) <= l.host.cfg.SendBuffer {
			break
		}
		w := l.sendWake
		n.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		n.mu.Lock()
	}
	m := &message{from: l, data: append([]byte(nil), msg...)}
	l.outstanding += len(msg)
	l.unsent += len(msg)
	l.count(func(s *Stats) { s.Sent += int64(len(msg)) })
	l.host.upQ = append(l.host.upQ, m)
	l.host.kickUp()
	n.mu.Unlock()
	return nil
}

// Recv returns the next message to arrive.
func (l *Link) Recv(ctx context.Context) ([]byte, error) {
	n := l.host.net
	n.mu.Lock()
	for {
		if len(l.recvQ) > 0 {
			b := l.recvQ[0]
			l.recvQ[0] = nil
			l.recvQ = l.recvQ[1:]
			l.recvBytes -= len(b)
			l.count(func(s *Stats) { s.Received += int64(len(b)) })
			for len(l.held) > 0 && l.fits(len(l.held[0].data)) {
				m := l.held[0]
				l.held = l.held[1:]
				l.enqueue(m)
			}
			n.mu.Unlock()
			return b, nil
		}
		if l.closed {
			n.mu.Unlock()
			return nil, transport.ErrClosed
		}
		w := l.recvWake
		n.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		n.mu.Lock()
	}
}

// Close closes both ends; unread and travelling messages are dropped.
func (l *Link) Close() error {
	n := l.host.net
	n.mu.Lock()
	defer n.mu.Unlock()
	l.closeLocked()
	return nil
}

func (l *Link) closeLocked() {
	for _, e := range []*Link{l, l.peer} {
		if e.closed {
			continue
		}
		e.closed = true
		var dropped int64
		for _, b := range e.recvQ {
			dropped += int64(len(b))
		}
		for _, m := range e.held {
			dropped += int64(len(m.data))
		}
		e.recvQ, e.held, e.recvBytes = nil, nil, 0
		e.count(func(s *Stats) { s.Dropped += dropped })
		delete(e.host.links, e)
		close(e.sendWake)
		close(e.recvWake)
		e.sendWake, e.recvWake = make(chan struct{}), make(chan struct{})
	}
}

// count applies f to the link's, its host's and the network's counters.
func (l *Link) count(f func(*Stats)) {
	f(&l.stats)
	f(&l.host.stats)
	f(&l.host.net.stats)
}

func (l *Link) fits(n int) bool { return l.recvBytes == 0 || l.recvBytes+n <= l.host.cfg.RecvBuffer }

// arrive delivers m to this (receiving) end, or holds it while the receive
// queue is full.
func (l *Link) arrive(m *message) {
	if l.closed {
		l.dropTravelling(m)
		return
	}
	if len(l.held) > 0 || !l.fits(len(m.data)) {
		l.held = append(l.held, m)
		return
	}
	l.enqueue(m)
}

func (l *Link) enqueue(m *message) {
	l.recvQ = append(l.recvQ, m.data)
	l.recvBytes += len(m.data)
	s := m.from
	s.outstanding -= len(m.data)
	close(s.sendWake)
	s.sendWake = make(chan struct{})
	close(l.recvWake)
	l.recvWake = make(chan struct{})
}

// dropTravelling accounts for a message whose link closed under it.
func (l *Link) dropTravelling(m *message) {
	l.count(func(s *Stats) { s.Dropped += int64(len(m.data)) })
}

// kickUp starts transmitting the head of the uplink queue if idle.
func (h *Host) kickUp() {
	for !h.upBusy && len(h.upQ) > 0 {
		m := h.upQ[0]
		h.upQ[0] = nil
		h.upQ = h.upQ[1:]
		if m.from.closed {
			m.from.peer.dropTravelling(m)
			continue
		}
		clock := h.net.clock
		m.upStart = clock.Now()
		d := serialisation(len(m.data), h.cfg.Up)
		if d <= 0 {
			h.upDone(m)
			continue
		}
		h.upBusy = true
		clock.AfterFunc(d, func() {
			h.net.mu.Lock()
			defer h.net.mu.Unlock()
			h.upBusy = false
			h.upDone(m)
			h.kickUp()
		})
	}
}

// upDone handles the end of m's transmission on h's uplink: lost (resent
// after an RTO) or on its way to the receiver's downlink.
func (h *Host) upDone(m *message) {
	n := h.net
	l := m.from
	if l.closed {
		l.peer.dropTravelling(m)
		return
	}
	r := l.peer.host
	lat := h.cfg.Latency + r.cfg.Latency
	if loss := 1 - (1-h.cfg.Loss)*(1-r.cfg.Loss); loss > 0 && n.rng.Float64() < loss {
		l.count(func(s *Stats) { s.Resent += int64(len(m.data)) })
		n.clock.AfterFunc(2*lat+n.cfg.MinRTO, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			h.upQ = append([]*message{m}, h.upQ...)
			h.kickUp()
		})
		return
	}
	l.unsent -= len(m.data)
	now := n.clock.Now()
	// Cut-through: the downlink starts as the first bit arrives, and finishes
	// no earlier than the last bit arrives.
	first := m.upStart.Add(lat)
	if r.downFreeAt.After(first) {
		first = r.downFreeAt
	}
	deliver := first.Add(serialisation(len(m.data), r.cfg.Down))
	if last := now.Add(lat); last.After(deliver) {
		deliver = last
	}
	r.downFreeAt = deliver
	dst := l.peer
	n.clock.AfterFunc(deliver.Sub(now), func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		dst.arrive(m)
	})
}

// serialisation is the time to push n bytes at bps bits/s (0: unlimited).
func serialisation(n int, bps float64) time.Duration {
	if bps <= 0 {
		return 0
	}
	return time.Duration(float64(n*8) / bps * float64(time.Second))
}
