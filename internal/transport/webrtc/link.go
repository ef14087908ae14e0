package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// recvQueue bounds messages read from the data channel and not yet returned by
// Recv; beyond it the reader stops and SCTP flow control pushes back.
const recvQueue = 32

// Link is a detached, unordered, reliable data channel to one neighbour; it
// implements transport.Link. Closing it closes the peer connection.
type Link struct {
	remote    string
	pc        *webrtc.PeerConnection
	dc        *webrtc.DataChannel
	rw        io.ReadWriteCloser // detached data channel
	maxMsg    int
	maxBuf    int
	low       chan struct{} // signalled by OnBufferedAmountLow
	recv      chan []byte
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	writeMu   sync.Mutex
	onClose   func()
}

var _ transport.Link = (*Link)(nil)

func newLink(remote string, pc *webrtc.PeerConnection, dc *webrtc.DataChannel, rw io.ReadWriteCloser, cfg Config, onClose func()) *Link {
	l := &Link{
		remote: remote, pc: pc, dc: dc, rw: rw,
		maxMsg: cfg.MaxMessage, maxBuf: cfg.MaxBuffered,
		low:     make(chan struct{}, 1),
		recv:    make(chan []byte, recvQueue),
		done:    make(chan struct{}),
		onClose: onClose,
	}
	dc.SetBufferedAmountLowThreshold(uint64(cfg.MaxBuffered / 2))
	dc.OnBufferedAmountLow(func() {
		select {
		case l.low <- struct{}{}:
		default:
		}
	})
	go l.readLoop()
	return l
}

func (l *Link) readLoop() {
	defer l.Close()
	buf := make([]byte, l.maxMsg)
	for {
		n, err := l.rw.Read(buf)
		if err != nil {
			return // closed, or a message larger than we accept: drop the link
		}
		msg := append([]byte(nil), buf[:n]...)
		select {
		case l.recv <- msg:
		case <-l.done:
			return
		}
	}
}

// RemoteID is the neighbour's peer id.
func (l *Link) RemoteID() string { return l.remote }

// MaxMessageSize is Config.MaxMessage.
func (l *Link) MaxMessageSize() int { return l.maxMsg }

// BufferedAmount is the data channel's bufferedAmount.
func (l *Link) BufferedAmount() int { return int(l.dc.BufferedAmount()) }

// Send writes one message, first waiting while more than Config.MaxBuffered
// bytes are buffered.
func (l *Link) Send(ctx context.Context, msg []byte) error {
	if len(msg) > l.maxMsg {
		return fmt.Errorf("webrtc: send %d bytes: %w", len(msg), transport.ErrTooLarge)
	}
	l.writeMu.Lock() // one writer at a time keeps the buffer bound exact
	defer l.writeMu.Unlock()
	for {
		b := int(l.dc.BufferedAmount())
		if b == 0 || b+len(msg) <= l.maxBuf {
			break
		}
		select {
		case <-l.low:
		case <-l.done:
			return transport.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-l.done:
		return transport.ErrClosed
	default:
	}
	if _, err := l.rw.Write(msg); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
			return transport.ErrClosed
		}
		return fmt.Errorf("webrtc: send to %s: %w", l.remote, err)
	}
	return nil
}

// Recv returns the next message.
func (l *Link) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-l.recv:
		return m, nil
	default:
	}
	select {
	case m := <-l.recv:
		return m, nil
	case <-l.done:
		return nil, transport.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes the data channel and the peer connection.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.rw.Close()
		// pc.Close waits for pion's goroutines; never block a caller
		// (or pion's own callbacks) on it.
		go l.pc.Close()
		if l.onClose != nil {
			l.onClose()
		}
	})
	return nil
}
