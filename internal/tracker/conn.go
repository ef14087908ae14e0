package tracker

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// conn is one peer's WebSocket. Its reader runs in the HTTP handler goroutine; writes
// go through a bounded queue drained by a goroutine that exists only while the queue is
// non-empty, and liveness is checked by a timer, so an idle peer costs one goroutine.
type conn struct {
	t        *Tracker
	ws       *websocket.Conn
	addr     string // remote IP
	reqToken string // token on the upgrade request, if any
	limiter  *rate.Limiter
	// region is the trusted region of the upgrade request, when regionTrusted.
	region        string
	regionTrusted bool
	lastSeen      atomic.Int64 // unix nanos of the last message or pong

	// Set once by join, before the conn is published in Tracker.conns.
	swarm SwarmKey
	peer  Peer

	qmu      sync.Mutex // guards last and detached
	last     Stats      // the peer's latest stats (counters only move forward)
	detached bool       // its region has P2P off: connected, not in the core (detached.go)

	mu       sync.Mutex
	queue    [][]byte
	queued   int  // bytes in queue
	writing  bool // a drain goroutine is running
	closing  bool // no more enqueues; close after the queue drains
	code     websocket.StatusCode
	reason   string
	removed  bool // swarm membership already removed (leave, ban, timeout)
	pinger   *time.Timer
	finished chan struct{}
}

// touch records liveness. It uses the real clock, not Config.Now: timeouts are about the
// network, not the (possibly simulated) policy clock.
func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

// send queues m; a full queue drops the peer as a slow consumer.
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
	if c.closing {
		return
	}
	if len(c.queue) >= c.t.cfg.SendQueue || c.queued+len(b) > c.t.cfg.SendQueueBytes {
		c.t.m.dropped.Inc()
		c.t.log.Debug("tracker: slow consumer dropped", "peer", c.peer.ID, "addr", c.addr)
		c.closing = true
		c.queue, c.queued = nil, 0
		go c.ws.CloseNow() // it cannot read a close frame in time anyway
		return
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	c.startDrainLocked()
}

// fail sends an error message and counts it.
func (c *conn) fail(code, msg string) {
	c.t.m.errors.WithLabelValues(code).Inc()
	c.send(&Error{Code: code, Message: msg})
}

// closeAfter queues m (if any), then closes the connection with code once the queue
// has been written.
func (c *conn) closeAfter(m Message, code websocket.StatusCode, reason string) {
	if m != nil {
		c.send(m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.code, c.reason = true, code, reason
	c.startDrainLocked()
}

func (c *conn) startDrainLocked() {
	if !c.writing {
		c.writing = true
		go c.drain()
	}
}

func (c *conn) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.writing = false
			closing, code, reason := c.closing, c.code, c.reason
			c.mu.Unlock()
			if closing && code != 0 {
				c.ws.Close(code, reason)
			}
			return
		}
		b := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.queued -= len(b)
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.t.cfg.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.closing, c.queue, c.queued, c.writing = true, nil, 0, false
			c.mu.Unlock()
			c.ws.CloseNow()
			return
		}
	}
}

// ping runs on the liveness timer: drop a silent peer, else ping it.
func (c *conn) ping() {
	select {
	case <-c.finished:
		return
	default:
	}
	timeout := c.t.cfg.PeerTimeout
	if time.Since(time.Unix(0, c.lastSeen.Load())) > timeout {
		c.t.m.errors.WithLabelValues(CodeTimeout).Inc()
		c.t.log.Debug("tracker: peer timed out", "addr", c.addr)
		c.ws.CloseNow()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout/2)
	if c.ws.Ping(ctx) == nil {
		c.touch()
	}
	cancel()
	c.mu.Lock()
	if c.pinger != nil {
		c.pinger.Reset(timeout / 3)
	}
	c.mu.Unlock()
}

// serve reads messages until the connection ends, then removes the peer.
func (c *conn) serve(ctx context.Context) {
	defer close(c.finished)
	defer c.t.drop(c)
	c.touch()
	c.mu.Lock()
	c.pinger = time.AfterFunc(c.t.cfg.PeerTimeout/3, c.ping)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.pinger.Stop()
		c.mu.Unlock()
	}()
	max := c.t.cfg.MaxMessageBytes
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		if err != nil {
			return
		}
		c.touch()
		if int64(len(b)) > max {
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
		if typ != websocket.MessageText {
			c.fail(CodeBadMessage, "binary frames are not part of the tracker protocol")
			continue
		}
		m, err := DecodeClient(b)
		if err != nil {
			c.fail(CodeBadMessage, err.Error())
			continue
		}
		if !c.t.handle(ctx, c, m) {
			return // handle queued the close
		}
	}
}
