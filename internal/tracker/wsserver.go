package tracker

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
)

// Connections are event-driven (lesismal/nbio): after the upgrade, net/http's
// hijacked socket moves into nbio's epoll loop, so a held connection costs neither a
// blocked reader goroutine nor net/http's per-connection buffers (docs/tracker.md
// "Transport", bench/tracker). Callbacks of one connection run in order, one at a
// time, on a goroutine that exists only while there is input to handle. A TLS
// connection (crypto/tls cannot be moved) is read by a goroutine of its own instead.

// errStopped refuses upgrades after Run has ended.
var errStopped = errors.New("tracker: stopped")

func init() {
	logging.SetLevel(logging.LevelNone) // nbio logs to stdout; we log connection events ourselves
}

// wsServer is a tracker's nbio engine, started with the first connection and
// stopped when Run ends.
type wsServer struct {
	mu      sync.Mutex
	engine  *nbhttp.Engine
	stopped bool
}

// start returns the running engine.
func (s *wsServer) start(maxPending int) (*nbhttp.Engine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errStopped
	}
	if s.engine != nil {
		return s.engine, nil
	}
	e := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "shoal-tracker",
		NPoller:                 1,
		ReleaseWebsocketPayload: true,
		MaxWriteBufferSize:      maxPending,
		// A handler may wait on a cluster owner (a join): one goroutine per
		// connection with input, not a shared pool that one slow join could stall.
		ServerExecutor: func(f func()) { go f() },
	})
	if err := e.Start(); err != nil {
		return nil, err
	}
	s.engine = e
	return e, nil
}

// stop closes every connection still in the engine and stops it.
func (s *wsServer) stop() {
	s.mu.Lock()
	e := s.engine
	s.engine, s.stopped = nil, true
	s.mu.Unlock()
	if e != nil {
		e.Stop()
	}
}

// checkOrigin implements Config.OriginPatterns: no patterns → any origin; else the
// Origin's host must match one (path.Match, as coder/websocket does) or be the
// request's own host.
func checkOrigin(patterns []string) func(*http.Request) bool {
	if len(patterns) == 0 {
		return func(*http.Request) bool { return true }
	}
	return func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		if o == "" {
			return true // not a browser
		}
		u, err := url.Parse(o)
		if err != nil {
			return false
		}
		if strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, p := range patterns {
			if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
				return true
			}
		}
		return false
	}
}

// upgrader returns a per-connection upgrader whose callbacks are c's.
func (t *Tracker) upgrader(c *conn) (*nbws.Upgrader, error) {
	e, err := t.ws.start(t.cfg.SendQueueBytes)
	if err != nil {
		return nil, err
	}
	u := nbws.NewUpgrader()
	u.Engine = e
	u.CheckOrigin = t.origin
	// Above MaxMessageBytes the tracker answers too_large itself; far above it
	// nbio closes (1009) before buffering the rest.
	u.MessageLengthLimit = int(2*t.cfg.MaxMessageBytes) + 64<<10
	u.OnOpen(func(ws *nbws.Conn) { c.attach(ws) })
	u.OnMessage(func(ws *nbws.Conn, typ nbws.MessageType, b []byte) {
		c.attach(ws)
		c.onMessage(typ == nbws.TextMessage, b)
	})
	u.SetPongHandler(func(*nbws.Conn, string) { c.touch() })
	u.OnClose(func(*nbws.Conn, error) { c.onClose() })
	return u, nil
}
