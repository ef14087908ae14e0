package peer

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/webrtc"
)

// Reconnection backoff for the tracker: doubled after each failure, with jitter
// so that a tracker restart is not met by every peer at the same instant.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 15 * time.Second
	dialLinkTO = 15 * time.Second
	sessionOut = 256 // tracker messages queued to send (signals, reports)
)

// session is one tracker connection (one peer id) and the transport built for
// it. Links it opened outlive it (P2P keeps flowing while the tracker is
// away) until the next session replaces it.
type session struct {
	sid    engine.SessionID // the core's name for it
	id     string
	client *signalling.Client
	dialer transport.Dialer
	out    chan signalling.Message
}

// queue sends m to the tracker without blocking; dropped when the queue is full
// (signalling is retried by ICE timeouts, reports are best effort).
func (s *session) queue(m signalling.Message) {
	select {
	case s.out <- m:
	default:
	}
}

func (p *Peer) newDialer(id string, signal transport.SignalFunc) (transport.Dialer, error) {
	if p.cfg.NewDialer != nil {
		return p.cfg.NewDialer(id, signal)
	}
	return webrtc.New(webrtc.Config{
		ID: id, Signal: signal, ICEInterface: p.cfg.ICEInterface, STUN: p.cfg.STUN,
		TURN: p.cfg.TURN, RelayOnly: p.cfg.RelayOnly,
		Logger: p.log.With("component", "webrtc"),
	})
}

// maxTrackers bounds the tracker URLs a viewer knows (its own and the welcome's).
const maxTrackers = 16

// joinPosition is the position a join gives the tracker: on a title, the playhead's;
// before the first playlist said what we play, the configured start if one was
// given (only a title has one); else none. A viewer that starts a title at 0 joins
// its first session without one: its first stats say where it plays, and the
// tracker then re-ranks its neighbours.
func (p *Peer) joinPosition() *float64 {
	st := p.Stats()
	var pos time.Duration
	switch {
	case st.VOD:
		pos = st.Position
	case p.cfg.VOD.Start > 0:
		pos = p.cfg.VOD.Start
	default:
		return nil
	}
	s := pos.Seconds()
	return &s
}

// runTracker keeps a tracker session up until ctx ends, reconnecting with
// backoff; on the way out it sends the final stats and leaves.
func (p *Peer) runTracker(ctx context.Context) {
	d := signalling.Dialer{HTTPHeader: p.cfg.TrackerHeader.Clone(), HTTPClient: p.cfg.Client}
	join := signalling.Join{Stream: p.cfg.Stream, Rendition: p.cfg.Rendition, UploadCapacity: cmp.Or(p.cfg.declare, p.cfg.UploadCapacity),
		Region: p.cfg.Region, Token: p.cfg.Token}
	backoff := minBackoff
	trackers := append([]string{p.cfg.Tracker}, p.cfg.Trackers...)
	next := 0 // the tracker to dial; moves on after a failure or an ended session
	var last *session
	var sessions engine.SessionID
	defer func() {
		if last != nil {
			last.dialer.Close()
		}
	}()
	for ctx.Err() == nil {
		dctx, cancel := withTimeout(ctx, p.cfg.Clock, 10*time.Second)
		url := trackers[next%len(trackers)]
		next++
		join.Position = p.joinPosition()
		c, err := d.Dial(dctx, url, join)
		cancel()
		if err != nil {
			p.log.Info("peer: tracker unavailable", "tracker", url, "err", err, "retry", backoff)
			if !transport.Sleep(ctx, p.cfg.Clock, backoff/2+rand.N(backoff/2+1)) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		sessions++
		s := &session{sid: sessions, id: c.ID(), client: c, out: make(chan signalling.Message, sessionOut)}
		s.dialer, err = p.newDialer(s.id, func(to string, sig transport.Signal) {
			s.queue(&signalling.Signal{To: to, Data: toTracker(sig)})
		})
		if err != nil {
			c.Close()
			p.log.Error("peer: transport", "err", err)
			if !transport.Sleep(ctx, p.cfg.Clock, maxBackoff) {
				return
			}
			continue
		}
		if last != nil {
			last.dialer.Close() // its links go down; the new session brings new ones
		}
		last = s
		w := c.Welcome()
		// The operator's other tracker nodes and edges, after the configured ones.
		for _, u := range w.Trackers {
			if len(trackers) < maxTrackers && !slices.Contains(trackers, u) {
				trackers = append(trackers, u)
			}
		}
		p.cdn.add(w.Edges)
		p.log.Info("peer: joined swarm", "tracker", url, "id", s.id, "neighbours", len(w.Neighbours))
		p.runSession(ctx, s) // when it ends, the next dial goes to the next tracker
		// Jittered, so a tracker node's viewers do not all land on the next at once.
		if !transport.Sleep(ctx, p.cfg.Clock, rand.N(minBackoff)) {
			return
		}
	}
}

// runSession serves one tracker connection until it ends or ctx is done.
func (p *Peer) runSession(ctx context.Context, s *session) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.client.Welcome()
	if !p.post(sctx, evWelcome{s: s, policy: w.Policy, stripe: w.Stripe}) {
		s.client.Close()
		return
	}
	p.addNeighbours(sctx, s, w.Neighbours)
	go func() { // accept links remote peers open to us
		for {
			l, err := s.dialer.Accept(sctx)
			if err != nil {
				return
			}
			if !p.post(sctx, evLinkUp{s: s, l: l}) {
				l.Close()
				return
			}
		}
	}()
	go func() { // writer: signals, reports, periodic stats
		t := transport.NewTicker(p.cfg.Clock, p.cfg.StatsInterval)
		defer t.Stop()
		for {
			var m signalling.Message
			select {
			case <-sctx.Done():
				return
			case m = <-s.out:
			case <-t.C:
				st := p.trackerStats()
				m = &st
			}
			wctx, wcancel := withTimeout(sctx, p.cfg.Clock, 5*time.Second)
			err := s.client.Send(wctx, m)
			wcancel()
			if err != nil {
				cancel()
				return
			}
		}
	}()
	for {
		m, err := s.client.Recv(sctx)
		if err != nil {
			if ctx.Err() != nil {
				// Shutting down: final stats, then leave.
				fctx, fcancel := withTimeout(context.Background(), p.cfg.Clock, time.Second)
				st := p.trackerStats()
				s.client.Send(fctx, &st)
				fcancel()
			} else {
				p.log.Info("peer: tracker session ended", "id", s.id, "err", err)
			}
			s.client.Close()
			p.post(ctx, evSession{s: s, ev: engine.SessionDown{Session: s.sid}})
			return
		}
		switch m := m.(type) {
		case *signalling.Signal:
			if err := s.dialer.HandleSignal(m.From, fromTracker(m.Data)); err != nil {
				p.log.Debug("peer: bad signal", "from", m.From, "err", err)
			}
		case *signalling.Neighbours:
			if len(m.Remove) > 0 {
				p.post(sctx, evSession{s: s, ev: engine.NeighboursRemoved{Session: s.sid, IDs: m.Remove}})
			}
			p.addNeighbours(sctx, s, m.Add)
		case *signalling.Policy:
			p.post(sctx, evSession{s: s, ev: engine.PolicyChanged{Session: s.sid, Policy: EnginePolicy(*m)}})
		case *signalling.Stripe:
			p.post(sctx, evSession{s: s, ev: engine.StripeChanged{Session: s.sid, Stripe: EngineStripe(*m)}})
		case *signalling.Banned:
			p.log.Warn("peer: banned by the tracker", "reason", m.Reason)
		case *signalling.Error:
			p.log.Debug("peer: tracker error", "code", m.Code, "message", m.Message)
		}
	}
}

// addNeighbours dials the neighbours we must offer to; the others offer to us
// and arrive through Accept.
func (p *Peer) addNeighbours(ctx context.Context, s *session, ns []signalling.Neighbour) {
	for _, n := range ns {
		if !n.Initiator {
			continue
		}
		go func() {
			dctx, cancel := withTimeout(ctx, p.cfg.Clock, dialLinkTO)
			defer cancel()
			l, err := s.dialer.Dial(dctx, n.PeerID)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					p.log.Debug("peer: dial neighbour", "peer", n.PeerID, "err", err)
				}
				return
			}
			if !p.post(ctx, evLinkUp{s: s, l: l}) {
				l.Close()
			}
		}()
	}
}

func toTracker(s transport.Signal) signalling.SignalData {
	d := signalling.SignalData{Type: s.Type, SDP: s.SDP}
	if c := s.Candidate; c != nil {
		d.Candidate = &signalling.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	}
	return d
}

func fromTracker(d signalling.SignalData) transport.Signal {
	s := transport.Signal{Type: d.Type, SDP: d.SDP}
	if c := d.Candidate; c != nil {
		s.Candidate = &transport.Candidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	}
	return s
}
