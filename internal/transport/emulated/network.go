// Package emulated is an in-memory network of hosts joined by transport.Links,
// for tests and the bench. Each host has an access link with upload and
// download bandwidth, a one-way latency and a loss rate; messages queue on the
// sender's uplink, travel, then share the receiver's downlink. Links are
// reliable like SCTP: a lost transmission is sent again after a retransmission
// timeout, so loss shows up as delay, extra upload and reordering, never as a
// missing message. Time comes from an injected transport.Clock, so a run can go
// faster than real time (or inside a testing/synctest bubble).
//
// Every message is copied on Send: the receiver never shares the sender's
// memory. Memory is bounded per link by SendBuffer + RecvBuffer.
package emulated

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// ErrDuplicateHost is returned by AddHost for an id already in use.
var ErrDuplicateHost = errors.New("emulated: duplicate host id")

// Config configures a Network. The zero value is usable.
type Config struct {
	Clock transport.Clock // nil → transport.SystemClock()
	Seed  uint64          // seeds the loss draws (deterministic per seed)
	// MinRTO is the retransmission timeout beyond the link's round trip
	// (RTO = RTT + MinRTO; default 200 ms).
	MinRTO time.Duration
}

// HostConfig is a host's access network. Zero bandwidth is unlimited.
type HostConfig struct {
	Up, Down float64       // bits per second
	Latency  time.Duration // one way; a link's latency is the sum of both ends
	Loss     float64       // probability that a transmission from or to it is lost
	// SendBuffer bounds the bytes a link end holds in flight towards its peer
	// (queued, travelling, or waiting for a full receiver): Send blocks beyond
	// it, like an SCTP window (default 1 MiB).
	SendBuffer int
	// RecvBuffer bounds the bytes received and not yet read per link end
	// (default 1 MiB).
	RecvBuffer int
	// MaxMessage is the largest message (default transport.DefaultMaxMessage).
	MaxMessage int
	// Backlog bounds links dialled to this host and not yet accepted (default 64).
	Backlog int
}

func (c HostConfig) withDefaults() HostConfig {
	if c.SendBuffer <= 0 {
		c.SendBuffer = 1 << 20
	}
	if c.RecvBuffer <= 0 {
		c.RecvBuffer = 1 << 20
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = transport.DefaultMaxMessage
	}
	if c.Backlog <= 0 {
		c.Backlog = 64
	}
	return c
}

// Stats counts bytes of messages (payload only).
type Stats struct {
	Sent     int64 // accepted by Send
	Received int64 // returned by Recv
	Dropped  int64 // discarded because a link closed before they were read
	Resent   int64 // retransmitted after a loss
}

// Network is a set of hosts. One mutex guards all state: the emulation is
// cheap per event and this keeps ordering simple.
type Network struct {
	cfg   Config
	clock transport.Clock
	mu    sync.Mutex
	rng   *rand.Rand
	hosts map[string]*Host
	stats Stats // every link end's counters, past and present
}

// New returns an empty network.
func New(cfg Config) *Network {
	if cfg.Clock == nil {
		cfg.Clock = transport.SystemClock()
	}
	if cfg.MinRTO <= 0 {
		cfg.MinRTO = 200 * time.Millisecond
	}
	return &Network{
		cfg:   cfg,
		clock: cfg.Clock,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d)),
		hosts: make(map[string]*Host),
	}
}

// AddHost adds a host; it implements transport.Dialer.
func (n *Network) AddHost(id string, hc HostConfig) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.hosts[id]; ok {
		return nil, fmt.Errorf("%w: %q", ErrDuplicateHost, id)
	}
	h := &Host{net: n, id: id, cfg: hc.withDefaults(), links: make(map[*Link]bool), acceptWake: make(chan struct{})}
	n.hosts[id] = h
	return h, nil
}

// Stats sums the byte counters of every link end, past and present.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Host is one endpoint of the network, with its access link.
type Host struct {
	net *Network
	id  string
	cfg HostConfig

	closed     bool
	links      map[*Link]bool
	backlog    []*Link
	acceptWake chan struct{} // closed and replaced when backlog grows or host closes

	upQ        []*message // waiting for the uplink, FIFO (retransmissions first)
	upBusy     bool
	downFreeAt time.Time
	stats      Stats
}

var _ transport.Dialer = (*Host)(nil)

// ID is the host's peer id.
func (h *Host) ID() string { return h.id }

// Stats is the sum over the host's link ends, past and present.
func (h *Host) Stats() Stats {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	return h.stats
}

// Dial connects to the host named remote. It never waits for signalling.
func (h *Host) Dial(ctx context.Context, remote string) (transport.Link, error) {
	n := h.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if h.closed {
		return nil, transport.ErrClosed
	}
	r := n.hosts[remote]
	if r == nil || r.closed || r == h {
		return nil, fmt.Errorf("emulated: dial %q: %w", remote, transport.ErrUnknownPeer)
	}
	if len(r.backlog) >= r.cfg.Backlog {
		return nil, fmt.Errorf("emulated: dial %q: %w", remote, transport.ErrBusy)
	}
	a, b := newLink(h), newLink(r)
	a.peer, b.peer = b, a
	h.links[a] = true
	r.links[b] = true
	r.backlog = append(r.backlog, b)
	close(r.acceptWake)
	r.acceptWake = make(chan struct{})
	return a, nil
}

// Accept returns the next link dialled to this host.
func (h *Host) Accept(ctx context.Context) (transport.Link, error) {
	n := h.net
	n.mu.Lock()
	for {
		if len(h.backlog) > 0 {
			l := h.backlog[0]
			h.backlog = h.backlog[1:]
			n.mu.Unlock()
			return l, nil
		}
		if h.closed {
			n.mu.Unlock()
			return nil, transport.ErrClosed
		}
		w := h.acceptWake
		n.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		n.mu.Lock()
	}
}

// HandleSignal does nothing: emulated links need no signalling.
func (h *Host) HandleSignal(string, transport.Signal) error { return nil }

// Close closes every link of the host and removes it from the network.
func (h *Host) Close() error {
	n := h.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	for l := range h.links {
		l.closeLocked()
	}
	close(h.acceptWake)
	h.acceptWake = make(chan struct{})
	delete(n.hosts, h.id)
	return nil
}
