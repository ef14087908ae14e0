package console

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Swarm is one (stream, rendition) as the tracker reports it (GET /api/streams).
type Swarm struct {
	Stream   string
	Peers    int
	BytesCDN uint64 // viewer-reported
	BytesP2P uint64 // viewer-reported
	Offload  float64
}

// Config configures a Sampler. Swarms is required; every other zero field takes the
// default written beside it.
type Config struct {
	// Swarms returns the tracker's swarms (in process: tracker.Streams).
	Swarms func(ctx context.Context) ([]Swarm, error)
	// Egress returns the CDN's bytes served so far per stream, measured by the edges
	// themselves (in process: edge.BytesServed; otherwise EdgeScraper). nil → the
	// chart has no egress line, only the viewers' own CDN figures.
	Egress   func(ctx context.Context, streams []string) (map[string]float64, error)
	Interval time.Duration // between samples; default 1s
	History  int           // samples kept per stream; default 300 (5 minutes at 1s)
	// Window is the span each rate is measured over; default 5s. Viewers report every
	// few seconds, so a one-second difference would swing between 0 and twice the rate.
	Window time.Duration
	// MaxStreams bounds the streams followed; default 1000 (the rest are not charted).
	MaxStreams int
	Logger     *slog.Logger     // nil → discard
	Now        func() time.Time // nil → time.Now
}

// Sample is one point of a stream's chart. Rates are per second over the last Window.
type Sample struct {
	T          int64   `json:"t"` // unix seconds
	Peers      int     `json:"peers"`
	EgressRate float64 `json:"egress_bps"` // CDN bytes/s measured by the edges (-1: unknown)
	CDNRate    float64 `json:"cdn_bps"`    // CDN bytes/s the viewers report
	P2PRate    float64 `json:"p2p_bps"`    // P2P bytes/s the viewers report
	// Offload is p2p / (p2p + cdn) over the window (viewer-reported); Cumulative is
	// the swarm's since it began, as /api/streams has it.
	Offload    float64 `json:"offload"`
	Cumulative float64 `json:"offload_total"`
}

// Sampler keeps each stream's recent Samples. Create it with New and run Run.
type Sampler struct {
	cfg Config

	mu      sync.Mutex
	streams map[string]*series
}

type series struct {
	recent  []totals // the totals of the last Window, oldest first
	samples []Sample // ring once full, oldest at next
	next    int
	seen    time.Time
}

type totals struct {
	at           time.Time
	cdn, p2p     uint64
	egress       float64
	haveEgress   bool
	peers        int
	offloadTotal float64
}

// New returns a Sampler; it panics without Config.Swarms (a programming error).
func New(cfg Config) *Sampler {
	if cfg.Swarms == nil {
		panic("console: Config.Swarms is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.History <= 0 {
		cfg.History = 300
	}
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sampler{cfg: cfg, streams: make(map[string]*series)}
}

// Run samples every Interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		s.SampleOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// SampleOnce takes one sample of every stream.
func (s *Sampler) SampleOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Interval*3)
	defer cancel()
	swarms, err := s.cfg.Swarms(ctx)
	if err != nil {
		s.cfg.Logger.Warn("console: swarms", "err", err)
		return
	}
	now := s.cfg.Now()
	by := make(map[string]*totals)
	var names []string
	for _, sw := range swarms {
		t := by[sw.Stream]
		if t == nil {
			t = &totals{at: now}
			by[sw.Stream] = t
			names = append(names, sw.Stream)
		}
		t.cdn += sw.BytesCDN
		t.p2p += sw.BytesP2P
		t.peers += sw.Peers
	}
	for _, t := range by {
		if tot := t.cdn + t.p2p; tot > 0 {
			t.offloadTotal = float64(t.p2p) / float64(tot)
		}
	}
	if s.cfg.Egress != nil {
		eg, err := s.cfg.Egress(ctx, names)
		if err != nil {
			s.cfg.Logger.Warn("console: edge egress", "err", err)
		}
		for name, v := range eg {
			if t := by[name]; t != nil {
				t.egress, t.haveEgress = v, err == nil
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, t := range by {
		sr := s.streams[name]
		if sr == nil {
			if len(s.streams) >= s.cfg.MaxStreams {
				continue
			}
			sr = &series{}
			s.streams[name] = sr
		}
		sr.seen = now
		if len(sr.recent) > 0 {
			sr.add(sample(sr.recent[0], *t), s.cfg.History)
		}
		sr.recent = append(sr.recent, *t)
		for len(sr.recent) > 1 && now.Sub(sr.recent[0].at) >= s.cfg.Window {
			sr.recent = sr.recent[1:]
		}
	}
	// Streams gone from the tracker for a full history are forgotten.
	for name, sr := range s.streams {
		if now.Sub(sr.seen) > time.Duration(s.cfg.History)*s.cfg.Interval {
			delete(s.streams, name)
		}
	}
}

func sample(prev, cur totals) Sample {
	dt := cur.at.Sub(prev.at).Seconds()
	rate := func(a, b float64) float64 {
		if dt <= 0 || b < a {
			return 0 // a counter reset (restart) is not negative traffic
		}
		return (b - a) / dt
	}
	sm := Sample{T: cur.at.Unix(), Peers: cur.peers, EgressRate: -1, Cumulative: cur.offloadTotal,
		CDNRate: rate(float64(prev.cdn), float64(cur.cdn)), P2PRate: rate(float64(prev.p2p), float64(cur.p2p))}
	if prev.haveEgress && cur.haveEgress {
		sm.EgressRate = rate(prev.egress, cur.egress)
	}
	if tot := sm.CDNRate + sm.P2PRate; tot > 0 {
		sm.Offload = sm.P2PRate / tot
	}
	return sm
}

func (sr *series) add(sm Sample, max int) {
	if len(sr.samples) < max {
		sr.samples = append(sr.samples, sm)
		return
	}
	sr.samples[sr.next] = sm
	sr.next = (sr.next + 1) % max
}

// Series returns stream's samples, oldest first (nil if unknown).
func (s *Sampler) Series(stream string) []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.streams[stream]
	if sr == nil {
		return nil
	}
	return append(slices.Clone(sr.samples[sr.next:]), sr.samples[:sr.next]...)
}
