package origin

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/takedown"
	"github.com/shoal-cdn/shoal/internal/transport"
)

// Origin is a live HLS origin. Create it with New, serve Handler, and call Run for its
// background work (demo pacing, pull relays, ending and removing silent streams).
type Origin struct {
	cfg Config
	m   *metrics
	key ed25519.PrivateKey

	mu      sync.RWMutex
	streams map[string]*stream

	epochMu     sync.Mutex
	lastEpochMs int64

	running atomic.Bool
	demo    *demoSource

	store   *store
	titleMu sync.RWMutex
	titles  map[string]*title
	gone    map[string]string // why a title is gone, for its 404
	down    takedown.Set      // streams the operator took down (takedown.go)
}

// New validates cfg, applies defaults and returns an origin. With Demo set, the demo
// stream is published at once (its first segments back-dated), so it can be played
// before Run starts pacing it.
func New(cfg Config) (*Origin, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(c.Registerer)
	if err != nil {
		return nil, fmt.Errorf("origin: metrics: %w", err)
	}
	o := &Origin{cfg: c, m: m, key: c.Key, streams: make(map[string]*stream),
		titles: make(map[string]*title), gone: make(map[string]string)}
	if o.key == nil {
		if _, o.key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("origin: generate key: %w", err)
		}
	}
	if o.store, err = newStore(c.StoreDir, c.StoreBytes); err != nil {
		return nil, err
	}
	if err := o.loadTitles(c.Now()); err != nil {
		return nil, err
	}
	if c.Demo {
		if o.demo, err = newDemo(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Close removes the temporary store (when StoreDir is empty) and the titles in it.
// A StoreDir is left as it is, for the next start.
func (o *Origin) Close() error { return o.store.close() }

// PublicKey returns the public key that signs the records of stream.
func (o *Origin) PublicKey(stream string) ed25519.PublicKey {
	return o.keyFor(stream).Public().(ed25519.PublicKey)
}

func (o *Origin) keyFor(stream string) ed25519.PrivateKey {
	if k, ok := o.cfg.StreamKeys[stream]; ok {
		return k
	}
	return o.key
}

// Handler serves ingest (PUT, POST, DELETE /ingest/{stream}/{file...}) and playback
// (GET, HEAD /live/...) as specified in docs/architecture.md. Other paths are 404.
func (o *Origin) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/ingest/"):
			o.serveIngest(w, r)
		case strings.HasPrefix(r.URL.Path, "/live/"):
			o.serveLive(w, r)
		case strings.HasPrefix(r.URL.Path, "/takedown/"):
			o.serveTakedown(w, r)
		case r.URL.Path == "/titles" || strings.HasPrefix(r.URL.Path, "/titles/"):
			o.serveTitles(w, r)
		default:
			httpError(w, http.StatusNotFound, "origin: not found")
		}
	})
}

// Run does the origin's background work until ctx ends: paces the demo stream, runs
// the pull relays, ends streams whose encoder went quiet and removes them later. It
// returns nil when ctx ends, or ErrRunning if the origin is already running.
func (o *Origin) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer o.running.Store(false)
	var wg sync.WaitGroup
	wg.Go(func() { o.reap(ctx) })
	if o.demo != nil {
		wg.Go(func() { o.demo.run(ctx) })
	}
	for name, u := range o.cfg.Pulls {
		wg.Go(func() { newPull(o, name, u).run(ctx) })
	}
	wg.Wait()
	return nil
}

// reap periodically ends silent streams and removes ended ones.
func (o *Origin) reap(ctx context.Context) {
	every := min(max(o.cfg.QuietTimeout/4, 10*time.Millisecond), time.Second)
	for transport.Sleep(ctx, o.cfg.Clock, every) {
		now := o.cfg.Now()
		o.reapOnce(now)
		o.reapTitles(now)
	}
}

func (o *Origin) reapOnce(now time.Time) {
	o.mu.RLock()
	all := make([]*stream, 0, len(o.streams))
	for _, s := range o.streams {
		all = append(all, s)
	}
	o.mu.RUnlock()
	for _, s := range all {
		s.mu.Lock()
		gone := s.expire(now)
		if gone {
			s.removed = true
			s.clearPending()
			if s.rec != nil {
				s.rec.discard()
				s.rec = nil
			}
		}
		s.mu.Unlock()
		if gone {
			o.mu.Lock()
			if o.streams[s.name] == s {
				delete(o.streams, s.name)
			}
			o.m.streams.Set(float64(len(o.streams)))
			o.mu.Unlock()
			o.m.forget(s.name)
			o.cfg.Logger.Info("origin: stream removed", "stream", s.name)
		}
	}
}

// newEpoch returns a fresh epoch, unique within this origin and, as long as the wall
// clock does not go back, across restarts.
func (o *Origin) newEpoch(now time.Time) string {
	o.epochMu.Lock()
	defer o.epochMu.Unlock()
	e, ms := media.NewEpoch(now, o.lastEpochMs)
	o.lastEpochMs = ms
	return e
}

// lookup returns the named stream or nil.
func (o *Origin) lookup(name string) *stream {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.streams[name]
}

// reserved reports whether name is published by the demo or a pull relay.
func (o *Origin) reserved(name string) bool {
	if o.cfg.Demo && name == DefaultDemoStream {
		return true
	}
	_, ok := o.cfg.Pulls[name]
	return ok
}

// withStream runs fn under the lock of the named stream, creating the stream (as
// source) if needed. It retries once if the stream was removed meanwhile.
func (o *Origin) withStream(name string, source sourceKind, fn func(s *stream) error) error {
	for range 2 {
		s, err := o.getOrCreate(name, source)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.removed {
			s.mu.Unlock()
			continue
		}
		err = fn(s)
		s.mu.Unlock()
		return err
	}
	return fmt.Errorf("origin: stream %q removed concurrently", name)
}

func (o *Origin) getOrCreate(name string, source sourceKind) (*stream, error) {
	if s := o.lookup(name); s != nil {
		return s, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.streams[name]; s != nil {
		return s, nil
	}
	if len(o.streams) >= o.cfg.MaxStreams {
		return nil, fmt.Errorf("%w (%d)", ErrStreamLimit, o.cfg.MaxStreams)
	}
	key := o.keyFor(name)
	s := &stream{
		name:         name,
		o:            o,
		key:          key,
		pub:          manifest.EncodePublicKey(key.Public().(ed25519.PublicKey)),
		source:       source,
		files:        make(map[string]*pendingFile),
		renditions:   make(map[string]*rendition),
		lastActivity: o.cfg.Now(),
	}
	o.streams[name] = s
	o.m.streams.Set(float64(len(o.streams)))
	o.cfg.Logger.Info("origin: stream created", "stream", name)
	return s, nil
}
