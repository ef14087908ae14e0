package bench

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/origin"
)

// vstream models the origin and the edge of a virtual-time run: the stream
// published live (the demo's samples, or synthetic MPEG-TS at a bitrate),
// one segment per segment duration after a back-filled start, each with a
// real record signed by a real key (parsed once, its signature checked, and
// shared by every viewer: each piece a viewer receives is verified against
// it); the edge's playlist cache; and the edge's byte counters, as the real
// edge counts them (media per segment path, overhead).
type vstream struct {
	name   string
	epoch  string
	target time.Duration
	window int
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	segs   []*vseg // published, by seq (seq = index)

	source source
	nextAt time.Time // next publication
	pdt    time.Time // PROGRAM-DATE-TIME of the next segment

	// Edge playlist cache.
	plAt      time.Time
	plEntries []engine.Entry
	plSize    int
	keySize   int

	media, overhead int64
	perSeg          map[string]int64

	vod bool // a title, published whole at the start (vod.go)
}

type vseg struct {
	seq       uint64
	uri       string // relative to /live/{stream}/
	path      string // the edge path
	data      []byte
	sum       [sha256.Size]byte
	rec       *manifest.Record
	recSize   int
	dur       time.Duration
	pdt       time.Time
	published time.Time
}

// vEpoch is the virtual stream's epoch (a published name's epoch is base36).
const vEpoch = "v1"

// edgePlaylistTTL is how long the edge serves a cached live playlist.
func (s *vstream) edgePlaylistTTL() time.Duration { return s.target / 4 }

func newVStream(cfg Config, start time.Time) (*vstream, error) {
	s := &vstream{epoch: vEpoch, window: origin.DefaultWindow, perSeg: make(map[string]int64)}
	seed := make([]byte, ed25519.SeedSize)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b6579))
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	s.priv = ed25519.NewKeyFromSeed(seed)
	s.pub = s.priv.Public().(ed25519.PublicKey)
	s.keySize = len(manifest.EncodePublicKey(s.pub))
	s.name = cfg.streamName()
	if s.source = cfg.pushed(); s.source == nil {
		demo, err := origin.DemoSegments()
		if err != nil {
			return nil, err
		}
		s.source = func(n int) ([]byte, time.Duration) {
			d := demo[n%len(demo)]
			return d.Data, d.Dur
		}
	}
	_, d := s.source(0)
	s.target = time.Duration(media.TargetDuration(d)) * time.Second
	if isVOD(cfg.Scenario) {
		return s, s.publishTitle(start)
	}
	// Back-fill, back-dated, so that a player can start at once (as the
	// origin's demo and the bench's encoder do).
	var back time.Duration
	for i := range origin.DemoBackfill {
		_, d := s.source(i)
		back += d
	}
	s.pdt = start.Add(-back)
	for range origin.DemoBackfill {
		if err := s.publish(start); err != nil {
			return nil, err
		}
	}
	s.nextAt = start.Add(d)
	return s, nil
}

// publish publishes the next segment at now.
func (s *vstream) publish(now time.Time) error {
	seq := uint64(len(s.segs))
	data, dur := s.source(int(seq))
	uri := rendition + "/" + media.SegmentName(s.epoch, seq, ".ts")
	signed := manifest.New(s.name, rendition, s.epoch, seq, uri, dur, data).Sign(s.priv)
	rec, err := manifest.Parse(signed, s.pub)
	if err != nil {
		return fmt.Errorf("bench: virtual record %d: %w", seq, err)
	}
	s.segs = append(s.segs, &vseg{seq: seq, uri: uri, path: "/live/" + s.name + "/" + uri, data: data, sum: sha256.Sum256(data), rec: rec,
		recSize: len(signed), dur: dur, pdt: s.pdt, published: now})
	s.pdt = s.pdt.Add(dur)
	return nil
}

// playlist is the edge's answer to a playlist request at now: the entries
// and the body's size, refreshed from the origin once the cached copy is
// older than edgePlaylistTTL.
func (s *vstream) playlist(now time.Time) ([]engine.Entry, int) {
	if s.plEntries == nil || now.Sub(s.plAt) >= s.edgePlaylistTTL() {
		first := max(0, len(s.segs)-s.window)
		pl := media.MediaPlaylist{TargetDuration: int(s.target / time.Second), MediaSequence: uint64(first), Ended: s.vod, VOD: s.vod}
		entries := make([]engine.Entry, 0, len(s.segs)-first)
		for _, g := range s.segs[first:] {
			pl.Segments = append(pl.Segments, media.Segment{URI: g.uri, Duration: g.dur, ProgramDateTime: g.pdt})
			entries = append(entries, engine.Entry{Seq: g.seq, Epoch: s.epoch, URI: g.uri, Dur: g.dur, PDT: g.pdt})
		}
		s.plEntries, s.plSize, s.plAt = entries, len(pl.Render()), now
	}
	return s.plEntries, s.plSize
}

// seg returns a published segment, nil if seq is unknown.
func (s *vstream) seg(seq uint64) *vseg {
	if seq >= uint64(len(s.segs)) {
		return nil
	}
	return s.segs[seq]
}

func (s *vstream) countMedia(g *vseg, n int64) {
	s.media += n
	s.perSeg[g.path] += n
}
