// Package webrtc implements transport.Dialer and transport.Link with pion
// WebRTC data channels: one peer connection per neighbour carrying one
// pre-negotiated (id 0, label "shoal"), unordered, reliable data channel, used
// detached; trickle ICE; signalling leaves through Config.Signal and comes back
// through HandleSignal. It is the only package of shoal that imports pion.
//
// Peers in a browser must create the same channel:
// createDataChannel("shoal", {negotiated: true, id: 0, ordered: false}).
package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// Label is the data channel's label.
const Label = "shoal"

// maxPendingCandidates bounds remote candidates buffered before the remote
// description arrives.
const maxPendingCandidates = 64

// Config configures a Transport.
type Config struct {
	// ID is our peer id: it breaks ties when two peers dial each other.
	ID string
	// Signal sends signalling to a remote peer (required).
	Signal transport.SignalFunc
	// ICEInterface, when set (e.g. "lo"), keeps ICE on that one interface:
	// host candidates from it only (loopback included for "lo"), UDP4, no mDNS
	// and no STUN. Tests use it to keep traffic off the machine's network.
	ICEInterface string
	// STUN lists STUN server URLs ("stun:host:port"), used when ICEInterface
	// is empty.
	STUN []string
	// TURN lists TURN relays (internal/relay, `shoal turn`); used with or without
	// ICEInterface.
	TURN []TURNServer
	// RelayOnly keeps ICE to relay candidates (ICE transport policy "relay"): the
	// remote sees the relay's address, never ours. Needs TURN.
	RelayOnly bool
	// MaxBuffered bounds the bytes queued in a data channel: Send blocks
	// beyond it (default 1 MiB).
	MaxBuffered int
	// MaxMessage is the largest message (default transport.DefaultMaxMessage).
	MaxMessage int
	// Backlog bounds accepted links not yet taken by Accept (default 32);
	// beyond it new inbound connections are closed.
	Backlog int
	// Logger receives pion's and our logs (nil: discarded).
	Logger *slog.Logger
}

// TURNServer is one TURN relay and its credentials.
type TURNServer struct {
	URL                  string // turn:host:port
	Username, Credential string
}

// Transport dials and accepts WebRTC links; it implements transport.Dialer.
type Transport struct {
	cfg      Config
	api      *webrtc.API
	rtc      webrtc.Configuration
	log      *slog.Logger
	accepted chan *Link

	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	sessions map[string]*session
}

var _ transport.Dialer = (*Transport)(nil)

// session is the connection attempt or connection to one remote peer.
type session struct {
	remote   string
	offerer  bool
	pc       *webrtc.PeerConnection
	pending  []webrtc.ICECandidateInit
	remoteOK bool // remote description set
	dialing  bool // a Dial waits for it: do not hand it to Accept
	offered  bool // Dial started the offer
	// Local candidates wait until our offer or answer went out, so that the
	// remote never sees a candidate before the description.
	described bool
	early     []transport.Signal
	ready     chan struct{}
	link      *Link
	err       error
}

// New returns a Transport.
func New(cfg Config) (*Transport, error) {
	if cfg.Signal == nil {
		return nil, errors.New("webrtc: Config.Signal is required")
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 1 << 20
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = transport.DefaultMaxMessage
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 32
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	// A vanished neighbour is given up after 10 s rather than pion's 25 s.
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	se.LoggerFactory = slogFactory{log}
	var rtc webrtc.Configuration
	if name := cfg.ICEInterface; name != "" {
		se.SetIncludeLoopbackCandidate(name == "lo")
		se.SetInterfaceFilter(func(n string) bool { return n == name })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else if len(cfg.STUN) > 0 {
		rtc.ICEServers = []webrtc.ICEServer{{URLs: cfg.STUN}}
	}
	for _, s := range cfg.TURN {
		rtc.ICEServers = append(rtc.ICEServers, webrtc.ICEServer{URLs: []string{s.URL}, Username: s.Username, Credential: s.Credential})
	}
	if cfg.RelayOnly {
		if len(cfg.TURN) == 0 {
			return nil, errors.New("webrtc: RelayOnly needs a TURN server")
		}
		rtc.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return &Transport{
		cfg:      cfg,
		api:      webrtc.NewAPI(webrtc.WithSettingEngine(se)),
		rtc:      rtc,
		log:      log,
		accepted: make(chan *Link, cfg.Backlog),
		done:     make(chan struct{}),
		sessions: make(map[string]*session),
	}, nil
}

// Dial connects to remote, or returns the connection that already exists or
// is being set up (also one remote opened to us).
func (t *Transport) Dial(ctx context.Context, remote string) (transport.Link, error) {
	if remote == "" || remote == t.cfg.ID {
		return nil, fmt.Errorf("webrtc: dial %q: %w", remote, transport.ErrUnknownPeer)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, transport.ErrClosed
	}
	s := t.sessions[remote]
	if s == nil {
		var err error
		if s, err = t.newSession(remote, true); err != nil {
			t.mu.Unlock()
			return nil, err
		}
	}
	for {
		s.dialing = true
		needOffer := s.offerer && !s.offered
		s.offered = true
		t.mu.Unlock()
		if needOffer {
			if err := t.offer(s); err != nil {
				t.fail(s, err)
			}
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			t.fail(s, ctx.Err())
			return nil, ctx.Err()
		case <-t.done:
			return nil, transport.ErrClosed
		}
		t.mu.Lock()
		if s.link != nil {
			l := s.link
			t.mu.Unlock()
			return l, nil
		}
		cur := t.sessions[remote]
		if cur == nil || cur == s {
			err := s.err
			t.mu.Unlock()
			return nil, fmt.Errorf("webrtc: dial %s: %w", remote, err)
		}
		s = cur // glare: our attempt yielded to theirs
	}
}

// Accept returns the next link a remote peer opened to us.
func (t *Transport) Accept(ctx context.Context) (transport.Link, error) {
	select {
	case l := <-t.accepted:
		return l, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.done:
		return nil, transport.ErrClosed
	}
}

// HandleSignal feeds an offer, answer or candidate from peer `from`.
func (t *Transport) HandleSignal(from string, sig transport.Signal) error {
	if from == "" || from == t.cfg.ID {
		return fmt.Errorf("%w: from %q", transport.ErrSignal, from)
	}
	switch sig.Type {
	case transport.SignalOffer:
		return t.handleOffer(from, sig.SDP)
	case transport.SignalAnswer:
		return t.handleAnswer(from, sig.SDP)
	case transport.SignalCandidate:
		c := sig.Candidate
		if c == nil {
			return fmt.Errorf("%w: candidate from %s without a candidate", transport.ErrSignal, from)
		}
		return t.handleCandidate(from, webrtc.ICECandidateInit{
			Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
		})
	default:
		return fmt.Errorf("%w: type %q", transport.ErrSignal, sig.Type)
	}
}

func (t *Transport) handleOffer(from, sdp string) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return transport.ErrClosed
	}
	old := t.sessions[from]
	if old != nil && old.offerer && old.link == nil && t.cfg.ID < from {
		t.mu.Unlock()
		return nil // glare: the lower id offers; they will take our offer
	}
	if old != nil {
		delete(t.sessions, from) // glare we lose, or the peer reconnects
	}
	s, err := t.newSession(from, false)
	if err != nil {
		t.mu.Unlock()
		return err
	}
	if old != nil && old.link == nil {
		s.dialing = old.dialing
	}
	t.mu.Unlock()
	if old != nil {
		t.fail(old, errors.New("superseded"))
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		t.fail(s, err)
		return fmt.Errorf("%w: offer from %s: %v", transport.ErrSignal, from, err)
	}
	if err := t.flushCandidates(s); err != nil {
		t.fail(s, err)
		return err
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(answer)
	}
	if err != nil {
		t.fail(s, err)
		return fmt.Errorf("webrtc: answer %s: %w", from, err)
	}
	t.describe(s, transport.Signal{Type: transport.SignalAnswer, SDP: answer.SDP})
	return nil
}

func (t *Transport) handleAnswer(from, sdp string) error {
	t.mu.Lock()
	s := t.sessions[from]
	t.mu.Unlock()
	if s == nil || !s.offerer || s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("%w: unexpected answer from %s", transport.ErrSignal, from)
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.fail(s, err)
		return fmt.Errorf("%w: answer from %s: %v", transport.ErrSignal, from, err)
	}
	return t.flushCandidates(s)
}

func (t *Transport) handleCandidate(from string, c webrtc.ICECandidateInit) error {
	t.mu.Lock()
	s := t.sessions[from]
	if s == nil {
		t.mu.Unlock()
		return fmt.Errorf("%w: candidate from %s without a session", transport.ErrSignal, from)
	}
	if !s.remoteOK {
		if len(s.pending) >= maxPendingCandidates {
			t.mu.Unlock()
			return fmt.Errorf("%w: too many early candidates from %s", transport.ErrSignal, from)
		}
		s.pending = append(s.pending, c)
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	if c.Candidate == "" {
		return nil // end of candidates
	}
	if err := s.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: candidate from %s: %v", transport.ErrSignal, from, err)
	}
	return nil
}

func (t *Transport) flushCandidates(s *session) error {
	t.mu.Lock()
	s.remoteOK = true
	pending := s.pending
	s.pending = nil
	t.mu.Unlock()
	for _, c := range pending {
		if c.Candidate == "" {
			continue
		}
		if err := s.pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("%w: candidate from %s: %v", transport.ErrSignal, s.remote, err)
		}
	}
	return nil
}

// newSession creates the peer connection and data channel; t.mu is held.
func (t *Transport) newSession(remote string, offerer bool) (*session, error) {
	pc, err := t.api.NewPeerConnection(t.rtc)
	if err != nil {
		return nil, fmt.Errorf("webrtc: peer connection: %w", err)
	}
	ordered, negotiated, id := false, true, uint16(0)
	dc, err := pc.CreateDataChannel(Label, &webrtc.DataChannelInit{Ordered: &ordered, Negotiated: &negotiated, ID: &id})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("webrtc: data channel: %w", err)
	}
	s := &session{remote: remote, offerer: offerer, pc: pc, ready: make(chan struct{})}
	t.sessions[remote] = s
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return // gathering complete; trickle needs no end marker here
		}
		j := c.ToJSON()
		sig := transport.Signal{Type: transport.SignalCandidate, Candidate: &transport.Candidate{
			Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment}}
		t.mu.Lock()
		if !s.described {
			if len(s.early) < maxPendingCandidates {
				s.early = append(s.early, sig)
			}
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		t.cfg.Signal(remote, sig)
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		t.log.Debug("webrtc: connection state", "remote", remote, "state", st.String())
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			t.fail(s, fmt.Errorf("connection %s", st))
		}
	})
	dc.OnOpen(func() {
		rw, err := dc.Detach()
		if err != nil {
			t.fail(s, err)
			return
		}
		t.opened(s, dc, rw)
	})
	return s, nil
}

func (t *Transport) offer(s *session) error {
	o, err := s.pc.CreateOffer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(o)
	}
	if err != nil {
		return fmt.Errorf("webrtc: offer to %s: %w", s.remote, err)
	}
	t.describe(s, transport.Signal{Type: transport.SignalOffer, SDP: o.SDP})
	return nil
}

// describe sends our offer or answer, then the candidates gathered meanwhile.
func (t *Transport) describe(s *session, sig transport.Signal) {
	t.cfg.Signal(s.remote, sig)
	t.mu.Lock()
	s.described = true
	early := s.early
	s.early = nil
	t.mu.Unlock()
	for _, c := range early {
		t.cfg.Signal(s.remote, c)
	}
}

// opened wraps an open data channel in a Link and hands it over.
func (t *Transport) opened(s *session, dc *webrtc.DataChannel, rw io.ReadWriteCloser) {
	l := newLink(s.remote, s.pc, dc, rw, t.cfg, func() { t.forget(s) })
	t.mu.Lock()
	if t.closed || t.sessions[s.remote] != s || s.err != nil || s.link != nil {
		t.mu.Unlock()
		l.Close()
		return
	}
	s.link = l
	close(s.ready)
	dialing := s.dialing
	t.mu.Unlock()
	if dialing {
		return
	}
	select {
	case t.accepted <- l:
	default:
		t.log.Info("webrtc: accept backlog full, closing link", "remote", s.remote)
		l.Close()
	}
}

// fail ends a session: its link (if any) closes, a waiting Dial returns.
func (t *Transport) fail(s *session, err error) {
	t.mu.Lock()
	if t.sessions[s.remote] == s {
		delete(t.sessions, s.remote)
	}
	first := s.err == nil && s.link == nil
	if first {
		s.err = err
		close(s.ready)
	}
	l := s.link
	t.mu.Unlock()
	if l != nil {
		l.Close()
	} else if first {
		go s.pc.Close()
	}
}

// forget drops a closed link's session.
func (t *Transport) forget(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions[s.remote] == s {
		delete(t.sessions, s.remote)
	}
}

// Close closes every connection and makes Dial and Accept return ErrClosed.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	sessions := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		sessions = append(sessions, s)
	}
	t.sessions = map[string]*session{}
	t.mu.Unlock()
	for _, s := range sessions {
		if s.link != nil {
			s.link.Close()
		}
		s.pc.Close()
	}
	for {
		select {
		case l := <-t.accepted:
			l.Close()
		default:
			return nil
		}
	}
}
