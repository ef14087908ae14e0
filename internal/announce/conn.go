package announce

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
	"golang.org/x/time/rate"
)

// conn is one WebSocket, with internal/tracker's mechanics: the reader is the only
// long-lived goroutine, writes go through a bounded queue drained by a goroutine that
// exists only while it is non-empty, and a timer pings and drops a silent peer.
type conn struct {
	s        *Server
	id       ConnID
	ws       *websocket.Conn
	addr     string
	ip       netip.Addr // as counted by Config.Limits (invalid: not counted)
	released atomic.Bool
	limiter  *rate.Limiter
	lastSeen atomic.Int64
	opened   time.Time   // when serve began (real clock)
	spoke    atomic.Bool // a message arrived: the liveness timer may read this

	mu       sync.Mutex
	queue    [][]byte
	queued   int
	writing  bool
	closing  bool
	code     websocket.StatusCode
	reason   string
	pinger   *time.Timer
	finished chan struct{}
}

// touch records liveness on the real clock (timeouts are about the network).
func (c *conn) touch() { c.lastSeen.Store(time.Now().UnixNano()) }

func (c *conn) send(m webtorrent.Message) {
	b, err := webtorrent.Encode(m)
	if err != nil {
		c.s.log.Error("announce: encode", "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if len(c.queue) >= c.s.cfg.SendQueue || c.queued+len(b) > c.s.cfg.SendQueueBytes {
		c.s.m.dropped.Inc()
		c.s.log.Debug("announce: slow consumer dropped", "addr", c.addr)
		c.closing = true
		c.queue, c.queued = nil, 0
		go c.ws.CloseNow()
		return
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	c.startDrainLocked()
}

// closeAfter queues m (if any), then closes with code once the queue is written.
func (c *conn) closeAfter(m webtorrent.Message, code websocket.StatusCode, reason string) {
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
		ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
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

func (c *conn) ping() {
	select {
	case <-c.finished:
		return
	default:
	}
	timeout := c.s.cfg.PeerTimeout
	if time.Since(time.Unix(0, c.lastSeen.Load())) > timeout {
		c.ws.CloseNow()
		return
	}
	// A socket that answers pings but never announces would hold one of its
	// address's connections (quota) for ever: it gets PeerTimeout to speak.
	if !c.spoke.Load() && time.Since(c.opened) > timeout {
		c.s.m.failures.WithLabelValues("timeout").Inc()
		c.closeAfter(&webtorrent.Failure{Reason: "no announce within " + timeout.String()}, websocket.StatusPolicyViolation, "timeout")
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

// serve reads until the connection ends, then takes the peer out of its swarms.
// Binary frames are read like text ones: the library JSON-parses both.
func (c *conn) serve(ctx context.Context) {
	defer close(c.finished)
	defer c.end()
	c.opened = time.Now()
	c.touch()
	c.mu.Lock()
	c.pinger = time.AfterFunc(c.s.cfg.PeerTimeout/3, c.ping)
	c.mu.Unlock()
	max := c.s.cfg.MaxMessageBytes
	for {
		_, r, err := c.ws.Reader(ctx)
		if err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		if err != nil {
			return
		}
		c.touch()
		c.spoke.Store(true)
		if int64(len(b)) > max {
			c.s.m.failures.WithLabelValues("too_large").Inc()
			c.closeAfter(&webtorrent.Failure{Reason: "message larger than the tracker's limit"}, websocket.StatusMessageTooBig, "too large")
			return
		}
		if !c.limiter.Allow() {
			c.s.m.failures.WithLabelValues("rate_limited").Inc()
			c.closeAfter(&webtorrent.Failure{Reason: "too many messages"}, websocket.StatusPolicyViolation, "rate limited")
			return
		}
		c.s.handle(c, b)
	}
}

func (c *conn) end() {
	c.mu.Lock()
	c.pinger.Stop()
	graceful := c.closing && c.code != 0 // the drain goroutine flushes, then closes
	c.closing = true
	c.mu.Unlock()
	c.s.drop(c)
	if !graceful {
		c.ws.CloseNow()
	}
}
