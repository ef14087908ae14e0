package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/bench"
	"github.com/shoal-cdn/shoal/internal/scheduler"
)

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bench", "Swarm bench: origin, edge, tracker and N peers of the real engine in one process.\n"+
		"Runs the scenario twice, CDN-only (P2P off by tracker policy) then hybrid, and prints\n"+
		"both side by side: offload, CDN egress, copies per segment, startup, stalls, latency.")
	peers := fs.Int("peers", 10, "viewers watching at once")
	duration := fs.Duration("duration", time.Minute, "length of each of the two runs")
	scenario := fs.String("scenario", bench.ScenarioSteady, "one of: "+strings.Join(bench.Scenarios(), ", "))
	var bitrate bitRate
	fs.Var(&bitrate, "bitrate", "synthetic stream bitrate such as 4M or 800k (default: the demo stream, ~1.5 Mbit/s)")
	segDur := fs.Duration("segment-duration", 0, "segment duration of the synthetic stream (with --bitrate; default 2s)")
	input := fs.String("input", "", "publish this directory's MPEG-TS rendition (an HLS media playlist and its segments, e.g. from scripts/bench-input.sh) instead of the demo, in a loop")
	transport := fs.String("transport", bench.TransportEmulated, "emulated (in-memory links) or webrtc (pion on loopback, small N)")
	speed := fs.Float64("speed", 1, "run the stream this many times faster than real time (emulated transport, real clock only)")
	clock := fs.String("clock", bench.ClockReal, "real (goroutines on a clock, real servers) or virtual (the same engine and tracker cores as discrete events: 10,000+ viewers)")
	frames := fs.String("frames", "", "virtual clock: bytes (frames encoded, pieces copied) or identity (piece bytes shared); default bytes up to 1,000 viewers")
	cores := fs.Int("cores", 0, "virtual clock: run the viewers on this many cores at once (0: all; the report is the same for any number)")
	only := fs.String("only", "", "run one mode only: cdn_only or hybrid")
	seed := fs.Uint64("seed", 1, "seed of the scenario (join times, latencies, churn, losses)")
	urgent := fs.Duration("urgent", 0, "scheduler tuning: pieces due within this come from the edge (0: the scheduler's default)")
	fallback := fs.Duration("fallback-window", 0, "scheduler tuning: staggered edge-fallback window before the urgent one (0: default)")
	push := fs.Bool("push", false, "peers push fresh pieces to their substream subscribers (experimental; default: pull only)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	plotOut := fs.String("plot", "", "write a plot (CDN egress and offload over time) to this .svg or .png file")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole bench to this file (for tuning the engine)")
	memProfile := fs.String("memprofile", "", "--clock virtual: write a Go heap profile at the end of the last run's stream to this file (for cutting memory per viewer)")
	logger := logFlags(fs)
	// Component logs would drown the progress line: warnings only by default.
	if f := fs.Lookup("log-level"); f != nil {
		f.DefValue = "warn"
		f.Value.Set("warn")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	if !setFlags["speed"] {
		*speed = 0 // the default: real time, and the virtual clock's only choice
	}
	if !setFlags["transport"] {
		*transport = ""
	}
	cfg := bench.Config{
		Scenario: *scenario, Peers: *peers, Duration: *duration, Bitrate: int64(bitrate), SegmentDuration: *segDur, Input: *input,
		Clock: *clock, Frames: *frames, Cores: *cores,
		Transport: *transport, Speed: *speed, Seed: *seed, Only: *only, Progress: os.Stderr, Logger: logger(),
		Scheduler: scheduler.Policy{Urgent: *urgent, FallbackWindow: *fallback}, Push: *push,
	}
	if *plotOut != "" {
		if err := bench.CheckPlotPath(*plotOut); err != nil {
			return err
		}
	}
	if *memProfile != "" {
		if *clock != "virtual" {
			return fmt.Errorf("shoal bench: --memprofile needs --clock virtual")
		}
		cfg.HeapProfile = func() (io.WriteCloser, error) { return os.Create(*memProfile) }
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := rep.WriteJSONFile(*jsonOut); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nJSON: %s\n", *jsonOut)
	}
	if *plotOut != "" {
		if err := rep.WritePlot(*plotOut); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "plot: %s\n", *plotOut)
	}
	return nil
}

// bitRate is a flag value in bit/s such as "4M", "800k" or "1500000".
type bitRate int64

func (b *bitRate) String() string { return fmt.Sprint(int64(*b)) }

func (b *bitRate) Set(s string) error {
	mult := 1.0
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "bps"), "bit/s")
	switch {
	case strings.HasSuffix(t, "M"), strings.HasSuffix(t, "m"):
		mult, t = 1e6, t[:len(t)-1]
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "K"):
		mult, t = 1e3, t[:len(t)-1]
	}
	var v float64
	if _, err := fmt.Sscan(t, &v); err != nil || v < 0 {
		return fmt.Errorf("want a bitrate such as 4M or 800k")
	}
	*b = bitRate(v * mult)
	return nil
}
