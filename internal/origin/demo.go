package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"fmt"
	"path"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/transport"
)

// The demo samples: 8 MPEG-TS segments of 2 s (H.264 640x360 25 fps ~1.4 Mbit/s with
// a keyframe at every segment start, AAC 440 Hz sine), made once from ffmpeg's
// testsrc2 + sine by scripts/make-demo.sh, which holds the exact command. The bytes
// are committed; do not regenerate them casually (other ffmpeg builds give other
// bytes).
//
//go:embed demo/index.m3u8 demo/*.ts
var demoFS embed.FS

const (
	demoRendition = "index"
	// DemoBackfill segments are published at once, back-dated, so that a player can
	// start immediately (hls.js starts three target durations behind live).
	DemoBackfill = 4
)

type demoSample struct {
	data []byte
	sum  [sha256.Size]byte
	dur  time.Duration
}

// demoSource publishes the samples in a loop, one per segment duration, with a
// discontinuity at each wrap (timestamps restart).
type demoSource struct {
	o       *Origin
	samples []demoSample
	next    int       // index of the next sample
	loops   int       // completed loops
	nextPDT time.Time // wall-clock start of the next segment
}

// loadDemo reads and checks the embedded samples.
func loadDemo() ([]demoSample, error) {
	pl, err := demoFS.ReadFile("demo/index.m3u8")
	if err != nil {
		return nil, fmt.Errorf("origin: demo: %w", err)
	}
	p, err := media.ParseMedia(pl)
	if err != nil {
		return nil, fmt.Errorf("origin: demo playlist: %w", err)
	}
	var out []demoSample
	for _, seg := range p.Segments {
		b, err := demoFS.ReadFile(path.Join("demo", seg.URI))
		if err != nil {
			return nil, fmt.Errorf("origin: demo: %w", err)
		}
		if err := media.Sniff(media.KindTS, b); err != nil {
			return nil, fmt.Errorf("origin: demo %s: %w", seg.URI, err)
		}
		out = append(out, demoSample{data: b, sum: sha256.Sum256(b), dur: seg.Duration})
	}
	return out, nil
}

func newDemo(o *Origin) (*demoSource, error) {
	samples, err := loadDemo()
	if err != nil {
		return nil, err
	}
	d := &demoSource{o: o, samples: samples}
	now := o.cfg.Now()
	var back time.Duration
	for i := range DemoBackfill {
		back += d.samples[i%len(d.samples)].dur
	}
	d.nextPDT = now.Add(-back)
	for range DemoBackfill {
		if err := d.publish(now); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// publish publishes the next sample.
func (d *demoSource) publish(now time.Time) error {
	smp := d.samples[d.next]
	disc := d.next == 0 && d.loops > 0
	err := d.o.withStream(DefaultDemoStream, sourceDemo, func(s *stream) error {
		r, err := s.rendition(demoRendition, now)
		if err != nil {
			return err
		}
		s.lastActivity = now
		s.addSegment(r, media.KindTS, bytes.Clone(smp.data), smp.sum, smp.dur, disc, nil, d.nextPDT, "", now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("origin: demo: %w", err)
	}
	d.nextPDT = d.nextPDT.Add(smp.dur)
	d.next++
	if d.next == len(d.samples) {
		d.next, d.loops = 0, d.loops+1
	}
	return nil
}

// interval is the pause before publishing the next sample.
func (d *demoSource) interval() time.Duration {
	if d.o.cfg.DemoInterval > 0 {
		return d.o.cfg.DemoInterval
	}
	return d.samples[d.next].dur
}

// run publishes one sample per interval until ctx ends. A late tick publishes one
// sample, not a burst: the demo is live, not a backlog.
func (d *demoSource) run(ctx context.Context) {
	for transport.Sleep(ctx, d.o.cfg.Clock, d.interval()) {
		if err := d.publish(d.o.cfg.Now()); err != nil {
			d.o.cfg.Logger.Error("origin: demo", "err", err)
		}
	}
}

// DemoSegment is one sample of the built-in demo stream.
type DemoSegment struct {
	Data []byte // never modified
	Dur  time.Duration
}

// DemoSegments returns the demo stream's samples, in publication order: the
// virtual-time bench publishes the same bytes without running an origin.
func DemoSegments() ([]DemoSegment, error) {
	samples, err := loadDemo()
	if err != nil {
		return nil, err
	}
	out := make([]DemoSegment, len(samples))
	for i, s := range samples {
		out[i] = DemoSegment{Data: s.data, Dur: s.dur}
	}
	return out, nil
}
