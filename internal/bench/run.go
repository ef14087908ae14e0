package bench

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/emulated"
)

// Run runs the scenario CDN-only, then hybrid, and reports both.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Input != "" {
		if cfg.input, err = loadInput(cfg.Input); err != nil {
			return nil, err
		}
	}
	bitrate := demoBitrate
	switch {
	case cfg.input != nil:
		bitrate = cfg.input.bitrate()
	case cfg.Bitrate > 0:
		bitrate = float64(cfg.Bitrate)
	}
	specs := scenarios[cfg.Scenario](planParams{
		peers: cfg.Peers, duration: cfg.Duration, bitrate: bitrate,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
	})
	meanUp := meanUpload(specs, cfg.Duration)
	rep := &Report{
		Scenario: cfg.Scenario, Peers: cfg.Peers, DurationS: cfg.Duration.Seconds(), Transport: cfg.Transport,
		Stream: cfg.streamName(), BitrateBPS: bitrate, MeanUploadBPS: meanUp, Viewers: len(specs),
		Runs: make(map[string]*RunReport),
	}
	if cfg.Clock == ClockVirtual {
		rep.Transport = TransportVirtual
	}
	// One clock for the whole invocation: every component of both runs and
	// the bench's own schedule read it.
	clk := transport.SystemClock()
	if cfg.Speed != 1 {
		clk = transport.ScaledClock(cfg.Speed)
	}
	start := time.Now()
	var streamS float64
	for _, mode := range []string{ModeCDNOnly, ModeHybrid} {
		if cfg.Only != "" && cfg.Only != mode {
			continue
		}
		var rr *RunReport
		var measured float64
		var err error
		if cfg.Clock == ClockVirtual {
			rr, measured, err = runVirtual(ctx, cfg, mode, specs)
		} else {
			rr, measured, err = runOnce(ctx, cfg, clk, mode, specs)
		}
		if err != nil {
			return nil, err
		}
		if measured > 0 {
			rep.BitrateBPS = measured
		}
		rep.Runs[mode] = rr
		streamS += rr.StreamS
	}
	// Wall time includes setting up and tearing down each run, so the speed
	// is what an operator waits for, not just the stream's pace.
	rep.WallS = time.Since(start).Seconds()
	rep.StreamS = streamS
	rep.RequestedSpeed = cfg.Speed
	rep.Speed = streamS / rep.WallS
	rep.OffloadLimit = offloadLimit(cfg.Peers, meanUp, rep.BitrateBPS)
	rep.PeakRSSBytes = peakRSS()
	if c, h := rep.Runs[ModeCDNOnly], rep.Runs[ModeHybrid]; c != nil && h != nil && c.CDNPeakMbps > 0 {
		rep.CDNPeakRatio = h.CDNPeakMbps / c.CDNPeakMbps
	}
	return rep, nil
}

// runOnce runs the scenario in one mode on a fresh origin, edge and tracker.
// It returns the run's report and the stream's measured bitrate.
func runOnce(ctx context.Context, cfg Config, clk transport.Clock, mode string, specs []viewerSpec) (*RunReport, float64, error) {
	e, err := newEnv(ctx, cfg, clk, mode == ModeHybrid)
	if err != nil {
		return nil, 0, err
	}
	defer e.close()
	var net *emulated.Network
	if cfg.Transport == TransportEmulated {
		net = emulated.New(emulated.Config{Seed: cfg.Seed, Clock: clk})
	}
	// One HTTP transport for every viewer, as many connections as a CDN
	// would see; each viewer counts its own bytes on top.
	base := &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	defer base.CloseIdleConnections()

	rr := &RunReport{}
	viewers := make([]*viewer, 0, len(specs))
	pending := slices.Clone(specs)
	slices.SortFunc(pending, func(a, b viewerSpec) int { return int(a.Join - b.Join) })

	start, wallStart := clk.Now(), time.Now()
	tick := transport.NewTicker(clk, 100*time.Millisecond)
	defer tick.Stop()
	checkCtx, stopChecks := context.WithCancel(ctx)
	defer stopChecks()
	var (
		lastSample         = start
		lastCDN, lastMedia int64
		lastP2P            int64
		nextCheck          = start.Add(3 * time.Second)
		nextProgress       = start
		watching           int
		warm                      = min(20*time.Second, cfg.Duration/4)
		warmP2P, warmMedia int64  = -1, -1
		warmSeq            uint64 // newest segment published at the end of the warm-up
		runErr             error
		checking           bool // a round of checks is running
		checked            = make(chan struct{}, 1)
	)
	totals := func() (p2p int64) {
		for _, v := range viewers {
			p2p += v.stats().BytesP2P
		}
		return p2p
	}
	for runErr == nil {
		var now time.Time
		select {
		case <-ctx.Done():
			runErr = ctx.Err()
			continue
		case now = <-tick.C:
		}
		if err := e.err(); err != nil {
			runErr = err
			continue
		}
		el := now.Sub(start)
		if el >= cfg.Duration {
			break
		}
		for len(pending) > 0 && pending[0].Join <= el {
			s := pending[0]
			pending = pending[1:]
			v, err := startViewer(ctx, e, s, len(viewers), net, base, cfg)
			if err != nil {
				runErr = err
				break
			}
			viewers = append(viewers, v)
		}
		watching = 0
		for _, v := range viewers {
			if v.left.IsZero() && v.spec.Leave > 0 && v.spec.Leave <= el {
				v.stop()
			}
			if v.left.IsZero() {
				watching++
				v.seekDue(ctx, el)
			}
		}
		if now.Sub(lastSample) >= time.Second {
			cdn, media, p2p := e.edge.BytesServed(e.stream), e.counter.media.Load(), totals()
			dt := now.Sub(lastSample).Seconds()
			smp := Sample{TS: el.Seconds(), CDNMbps: float64(cdn-lastCDN) * 8 / dt / 1e6, Watching: watching}
			if d := (p2p - lastP2P) + (media - lastMedia); d > 0 {
				smp.Offload = float64(p2p-lastP2P) / float64(d)
			}
			rr.Series = append(rr.Series, smp)
			rr.CDNPeakMbps = max(rr.CDNPeakMbps, smp.CDNMbps)
			lastSample, lastCDN, lastMedia, lastP2P = now, cdn, media, p2p
			if warmP2P < 0 && el >= warm {
				warmP2P, warmMedia = p2p, media
				warmSeq, _ = newestSeq(e.ref.all())
			}
			if cfg.Progress != nil && !now.Before(nextProgress) {
				nextProgress = now.Add(cfg.ProgressEvery)
				off := 0.0
				if p2p+media > 0 {
					off = float64(p2p) / float64(p2p+media)
				}
				fmt.Fprintf(cfg.Progress, "\r%-8s %5.0f/%.0f s  watching %4d  CDN %6.1f Mbit/s  offload %5.1f%%  ",
					mode, el.Seconds(), cfg.Duration.Seconds(), watching, smp.CDNMbps, 100*off)
			}
		}
		// The checks run beside the loop, so that joins, leaves and samples
		// keep to the schedule however long they take; a round still
		// running when the next is due skips that one.
		if !now.Before(nextCheck) && !checking {
			nextCheck = now.Add(4 * time.Second)
			checking = true
			vs := slices.Clone(viewers)
			go func() {
				checkAll(checkCtx, e, vs, 2)
				checked <- struct{}{}
			}()
		}
		select {
		case <-checked:
			checking = false
		default:
		}
	}
	// A round under way when the run ends is cut short (what it did not
	// reach is not counted), so that it cannot stretch the run.
	stopChecks()
	if checking {
		<-checked
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	// Last check of the proxies (viewers still watching: a stopped engine's
	// proxy would go to the edge), freeze the figures, then take everyone
	// down at once (no survivor plays alone meanwhile).
	if runErr == nil {
		// Bounded: with a thousand starved engines each proxy answer can take
		// a second, and the viewers keep playing (and the clock running)
		// meanwhile. Checks cut short count as not checked.
		fctx, cancel := context.WithTimeout(ctx, finalCheckLimit)
		checkAll(fctx, e, viewers, 16)
		cancel()
	}
	end, wallEnd := clk.Now(), time.Now()
	cdnBytes := e.edge.BytesServed(e.stream)
	rr.CDNMediaBytes, rr.CDNOverheadBytes = e.counter.media.Load(), e.counter.overhead.Load()
	perSeg := e.counter.segments()
	for _, v := range viewers {
		v.stop()
	}
	for _, v := range viewers {
		<-v.done
	}
	// With every handler returned, the counting wrapper must agree with the
	// edge's own counter to the byte.
	e.close()
	final := e.edge.BytesServed(e.stream)
	rr.CDNMediaBytesFinal = e.counter.media.Load()
	rr.EdgeCounterAgrees = final == rr.CDNMediaBytesFinal+e.counter.overhead.Load()
	if runErr != nil {
		return nil, 0, runErr
	}
	rr.WallS = wallEnd.Sub(wallStart).Seconds()
	rr.StreamS = end.Sub(start).Seconds()
	rr.CDNBytes = cdnBytes
	rr.CDNMeanMbps = float64(cdnBytes) * 8 / rr.StreamS / 1e6
	if net != nil {
		ns := drain(net, 5*time.Second)
		rr.LinkSentBytes, rr.LinkReceivedBytes, rr.LinkDroppedBytes = ns.Sent, ns.Received, ns.Dropped
	}
	results := make([]viewerResult, len(viewers))
	for i, v := range viewers {
		results[i] = viewerResult{spec: v.spec, joined: v.joined, left: v.left, final: v.final,
			cdnMedia: v.http.media.Load(), checked: v.checked, mismatched: v.mismatched}
	}
	aggregate(rr, results, start, end)
	// CDN copies per segment, over the segments the edge served.
	refs := e.ref.all()
	var segBytes, segSize int64
	for p, n := range perSeg {
		ref, ok := refs[p]
		if !ok || ref.size == 0 {
			continue
		}
		segBytes += n
		segSize += ref.size
		if _, seq, _, _, err := media.ParseSegmentName(path.Base(p)); err == nil {
			rr.Segments = append(rr.Segments, SegmentReport{Seq: seq, Size: ref.size, EdgeBytes: n})
		}
	}
	slices.SortFunc(rr.Segments, func(a, b SegmentReport) int { return cmp.Compare(a.Seq, b.Seq) })
	if segSize > 0 {
		rr.CDNCopiesPerSegment = float64(segBytes) / float64(segSize)
	}
	last, ok := newestSeq(refs)
	rr.offloads(warmP2P, warmMedia, warmSeq, last, ok)
	if net != nil {
		rr.FramingBytes = max(0, rr.LinkSentBytes-rr.UploadBytes)
	}
	return rr, measuredBitrate(refs), nil
}

// steadyTail is the number of newest segments left out of CDNCopiesSteady.
const steadyTail = 4

// offloads fills the ratios from the byte counts: the whole run's, and those
// after the warm-up (warmP2P < 0: the run ended before it), counting the
// segments published after it and due for every player before the end
// (players sit about 3 target durations, plus a poll, behind live: the
// newest steadyTail segments are not). last is the newest segment published.
func (rr *RunReport) offloads(warmP2P, warmMedia int64, warmSeq, last uint64, haveLast bool) {
	if haveLast && warmP2P >= 0 {
		var b, n int64
		for _, sr := range rr.Segments {
			if sr.Seq > warmSeq && sr.Seq+steadyTail <= last {
				b += sr.EdgeBytes
				n += sr.Size
			}
		}
		if n > 0 {
			rr.CDNCopiesSteady = float64(b) / float64(n)
		}
	}
	if all := rr.P2PBytes + rr.CDNBytes; all > 0 {
		rr.CDNShareAll = float64(rr.CDNBytes) / float64(all)
	}
	if rr.P2PBytes+rr.CDNMediaBytes > 0 {
		rr.Offload = float64(rr.P2PBytes) / float64(rr.P2PBytes+rr.CDNMediaBytes)
	}
	if d := (rr.P2PBytes - warmP2P) + (rr.CDNMediaBytes - warmMedia); warmP2P >= 0 && d > 0 {
		rr.OffloadSteady = float64(rr.P2PBytes-warmP2P) / float64(d)
	}
}

// newestSeq is the highest media sequence number in refs.
func newestSeq(refs map[string]refSeg) (seq uint64, ok bool) {
	for p := range refs {
		if _, s, _, _, err := media.ParseSegmentName(path.Base(p)); err == nil && (!ok || s > seq) {
			seq, ok = s, true
		}
	}
	return seq, ok
}

// finalCheckLimit bounds the last round of checks, in wall time.
const finalCheckLimit = 10 * time.Second

// checkAll checks the viewers still watching, par at a time.
func checkAll(ctx context.Context, e *env, vs []*viewer, par int) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, v := range vs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v.check(ctx, e)
		})
	}
	wg.Wait()
}

// drain waits (bounded) until every message sent on the emulated network was
// either received or dropped by a closing link.
func drain(net *emulated.Network, limit time.Duration) emulated.Stats {
	deadline := time.Now().Add(limit)
	for {
		s := net.Stats()
		if s.Sent == s.Received+s.Dropped || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func measuredBitrate(refs map[string]refSeg) float64 {
	var bytes int64
	var dur time.Duration
	for _, r := range refs {
		bytes += r.size
		dur += r.dur
	}
	if dur <= 0 {
		return 0
	}
	return float64(bytes) * 8 / dur.Seconds()
}

// peakRSS is the process's peak resident set (Linux: ru_maxrss in KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10
}
