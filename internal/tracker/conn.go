package tracker

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/lesismal/nbio"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"golang.org/x/time/rate"
)

// conn is one peer's WebSocket (wsserver.go). Writes never block: nbio writes what
// the socket takes and keeps the rest, at most SendQueueBytes, beyond which the peer
// is dropped as a slow consumer. Liveness is a timer. An idle peer costs this struct,
// nbio's connection and the timer; no goroutine.
type conn struct {
	t        *Tracker
	addr     string     // remote IP
	ip       netip.Addr // the same, as counted by Tracker.limits (invalid: not counted)
	released atomic.Bool
	reqToken string // token on the upgrade request, if any
	limiter  *rate.Limiter
	// region is the trusted region of the upgrade request, when regionTrusted.
	region        string
	regionTrusted bool
	lastSeen      atomic.Int64 // unix nanos of the last message or pong
	opened        time.Time    // when attach ran (real clock)
	joined        atomic.Bool  // join succeeded: the liveness timer may read this

	// Set once by join, before the conn is published in Tracker.conns; read by the
	// connection's own callbacks (which run one at a time) and by deliveries after.
	swarm SwarmKey
	peer  Peer

	qmu      sync.Mutex // guards last and detached
	last     Stats      // the peer's latest stats (counters only move forward)
	detached bool       // its region has P2P off: connected, not in the core (detached.go)

	mu      sync.Mutex
	ws      *nbws.Conn
	closing bool // a close was sent or the connection ended: no more writes
	ended   bool // onClose ran
	removed bool // swarm membership already removed (leave, ban, timeout)
	pinger  *time.Timer
}

// touch records liveness. It uses the real clock, not Config.Now: timeouts are about the
// network, not the (possibly simulated) policy clock.
func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// attach records the nbio connection (its first callback may come before Upgrade
// returns) and starts the liveness timer.
func (c *conn) attach(ws *nbws.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		return
	}
	c.ws = ws
	c.opened = time.Now()
	c.touch()
	c.pinger = time.AfterFunc(c.t.cfg.PeerTimeout/3, c.ping)
}

// send writes m; a peer whose unsent bytes exceed SendQueueBytes is dropped.
func (c *conn) send(m Message) {
	b, err := Encode(m)
	if err != nil {
		c.t.log.Error("tracker: encode", "err", err)
		return
	}
	c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.ws == nil {
		return
	}
	if err := c.ws.WriteMessage(nbws.TextMessage, b); err != nil {
		c.closing = true
		if errors.Is(err, nbio.ErrOverflow) {
			c.t.m.dropped.Inc()
			c.t.log.Debug("tracker: slow consumer dropped", "peer", c.peer.ID, "addr", c.addr)
		}
		c.ws.Close() // it cannot read a close frame in time anyway
	}
}

// fail sends an error message and counts it.
func (c *conn) fail(code, msg string) {
	c.t.m.errors.WithLabelValues(code).Inc()
	c.send(&Error{Code: code, Message: msg})
}

// closeAfter writes m (if any) and a close frame with code, then closes.
func (c *conn) closeAfter(m Message, code websocket.StatusCode, reason string) {
	var b []byte
	if m != nil {
		var err error
		if b, err = Encode(m); err != nil {
			c.t.log.Error("tracker: encode", "err", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.ws == nil {
		return
	}
	c.closing = true
	if b != nil {
		c.ws.WriteMessage(nbws.TextMessage, b)
	}
	c.ws.WriteClose(int(code), reason)
	c.ws.Close()
}

// ping runs on the liveness timer: drop a silent peer, else ping it.
func (c *conn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.closing {
		return
	}
	timeout := c.t.cfg.PeerTimeout
	// A connection that answers pings but never joins would hold one of its
	// address's connections for ever: it gets PeerTimeout to join.
	if !c.joined.Load() && time.Since(c.opened) > timeout {
		c.t.m.errors.WithLabelValues(CodeTimeout).Inc()
		c.t.log.Debug("tracker: no join in time", "addr", c.addr)
		c.closing = true
		if b, err := Encode(&Error{Code: CodeTimeout, Message: "no join within " + timeout.String()}); err == nil {
			c.ws.WriteMessage(nbws.TextMessage, b)
		}
		c.ws.WriteClose(int(websocket.StatusPolicyViolation), CodeTimeout)
		c.ws.Close()
		return
	}
	if time.Since(time.Unix(0, c.lastSeen.Load())) > timeout {
		c.t.m.errors.WithLabelValues(CodeTimeout).Inc()
		c.t.log.Debug("tracker: peer timed out", "addr", c.addr)
		c.closing = true
		c.ws.Close()
		return
	}
	c.ws.WriteMessage(nbws.PingMessage, nil)
	c.pinger.Reset(timeout / 3)
}

// onMessage handles one client message.
func (c *conn) onMessage(text bool, b []byte) {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return
	}
	c.touch()
	if int64(len(b)) > c.t.cfg.MaxMessageBytes {
		c.t.m.errors.WithLabelValues(CodeTooLarge).Inc()
		c.closeAfter(&Error{Code: CodeTooLarge, Message: "message larger than the tracker's limit"},
			websocket.StatusMessageTooBig, CodeTooLarge)
		return
	}
	if !c.limiter.Allow() {
		c.t.m.errors.WithLabelValues(CodeRateLimited).Inc()
		c.closeAfter(&Error{Code: CodeRateLimited, Message: "too many messages"},
			websocket.StatusPolicyViolation, CodeRateLimited)
		return
	}
	if !text {
		c.fail(CodeBadMessage, "binary frames are not part of the tracker protocol")
		return
	}
	m, err := DecodeClient(b)
	if err != nil {
		c.fail(CodeBadMessage, err.Error())
		return
	}
	c.t.handle(c, m) // false (closing) needs nothing more: the close is under way
}

// onClose runs once when the connection has ended: leave the swarm if still in it.
func (c *conn) onClose() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended, c.closing = true, true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.t.drop(c)
}
