package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs the real engine end to end, CDN-only then hybrid, with a
// few viewers for a few seconds, and checks the invariants the figures rest on.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 15 s swarms")
	}
	rep := smoke(t, 1)

	// JSON: the fixed field names are there and parse.
	dir := t.TempDir()
	jp := filepath.Join(dir, "bench.json")
	if err := rep.WriteJSONFile(jp); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scenario  string                                `json:"scenario"`
		Peers     int                                   `json:"peers"`
		DurationS float64                               `json:"duration_s"`
		Runs      map[string]map[string]json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Scenario != ScenarioSteady || doc.Peers != smokePeers || doc.DurationS != 15 {
		t.Errorf("JSON header: %+v", doc)
	}
	for _, mode := range []string{ModeCDNOnly, ModeHybrid} {
		for _, f := range []string{"offload", "cdn_bytes", "cdn_peak_mbps", "cdn_copies_per_segment", "cdn_copies_per_segment_steady", "startup_ms_p50",
			"startup_ms_p95", "rebuffer_ratio", "stalls", "latency_ms_p50", "latency_ms_p95"} {
			var x float64
			if err := json.Unmarshal(doc.Runs[mode][f], &x); err != nil {
				t.Errorf("JSON runs.%s.%s: %v", mode, f, err)
			}
		}
	}

	// Plots: SVG is well-formed XML, PNG decodes.
	svg := filepath.Join(dir, "bench.svg")
	if err := rep.WritePlot(svg); err != nil {
		t.Fatal(err)
	}
	checkXML(t, svg)
	pngPath := filepath.Join(dir, "bench.png")
	if err := rep.WritePlot(pngPath); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot PNG: %v", err)
	}
	if img.Bounds().Dx() < 100 {
		t.Errorf("plot PNG is %v", img.Bounds())
	}
}

// TestSmokeFaster runs the same swarm on a clock three times faster than
// real time: every component reads it, so the invariants must hold as they
// do at speed 1, and the figures must be in stream time.
func TestSmokeFaster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 15 s swarms at 3×")
	}
	const speed = 3
	rep := smoke(t, speed)
	if rep.RequestedSpeed != speed {
		t.Errorf("report says the clock ran at %g×, want %d×", rep.RequestedSpeed, speed)
	}
	for _, mode := range []string{ModeCDNOnly, ModeHybrid} {
		// 15 s of stream time per run, not of wall time (5 s at 3×). The stop
		// lags by up to a few hundred ms of wall time on a loaded machine, which
		// at 3× is a second of stream: 16.0 s was seen under -race in CI.
		if rr := rep.Runs[mode]; rr.StreamS < 15 || rr.StreamS > 17 {
			t.Errorf("%s: run lasted %.2f s of stream time, want 15 (at most 17)", mode, rr.StreamS)
		}
	}
}

const smokePeers = 6

// smoke runs steady with smokePeers viewers for 15 s of stream time on a
// clock at speed, and checks the invariants the figures rest on.
func smoke(t *testing.T, speed float64) *Report {
	t.Helper()
	const peers = smokePeers
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Scenario: ScenarioSteady, Peers: peers, Duration: 15 * time.Second, Seed: 7, Speed: speed})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())

	for _, mode := range []string{ModeCDNOnly, ModeHybrid} {
		rr := rep.Runs[mode]
		if rr == nil {
			t.Fatalf("%s: no report", mode)
		}
		// Every viewer played, and every segment it played that the check
		// reached was byte-identical to the origin's.
		if rr.PeersStarted != peers {
			t.Errorf("%s: %d of %d viewers started", mode, rr.PeersStarted, peers)
		}
		if rr.SegmentsMismatched != 0 {
			t.Errorf("%s: %d segments differ from the origin's", mode, rr.SegmentsMismatched)
		}
		for _, v := range rr.Viewers {
			if v.Checked == 0 || v.Checked < v.Played-3 {
				t.Errorf("%s: viewer %s: %d segments checked of %d played", mode, v.Name, v.Checked, v.Played)
			}
		}
		// The counting wrapper agrees with the edge's own counter, and the
		// viewers' HTTP clients read exactly what the edge says it served.
		if !rr.EdgeCounterAgrees {
			t.Errorf("%s: edge counter %d ≠ media %d + overhead %d", mode, rr.CDNBytes, rr.CDNMediaBytes, rr.CDNOverheadBytes)
		}
		// Only bodies cut when the viewers stopped may differ, by what sat
		// in socket buffers: at most one segment per viewer.
		if cut := rr.CDNMediaBytesFinal - rr.PeerCDNMediaBytes; cut < 0 || cut > peers*maxSegment(rr) {
			t.Errorf("%s: viewers read %d media bytes, the edge served %d", mode, rr.PeerCDNMediaBytes, rr.CDNMediaBytesFinal)
		}
		// Bytes sent on links were received (or dropped by a link closing at
		// the end): the emulation loses nothing.
		if rr.LinkSentBytes != rr.LinkReceivedBytes+rr.LinkDroppedBytes {
			t.Errorf("%s: links sent %d bytes, received %d, dropped %d", mode, rr.LinkSentBytes, rr.LinkReceivedBytes, rr.LinkDroppedBytes)
		}
		if len(rr.Series) < 10 {
			t.Errorf("%s: %d samples in 15 s", mode, len(rr.Series))
		}
	}

	cdn := rep.Runs[ModeCDNOnly]
	if cdn.Offload != 0 || cdn.P2PBytes != 0 || cdn.LinkSentBytes != 0 {
		t.Errorf("CDN-only: offload %v, %d P2P bytes, %d link bytes; want none", cdn.Offload, cdn.P2PBytes, cdn.LinkSentBytes)
	}
	// CDN-only: each segment every viewer played came from the edge exactly
	// once per viewer: the edge served peers × its size.
	var lo, hi uint64 = 0, ^uint64(0)
	for _, v := range cdn.Viewers {
		lo = max(lo, v.StartSeq)
		hi = min(hi, v.StartSeq+uint64(v.Played)) // exclusive
	}
	full := 0
	for _, s := range cdn.Segments {
		if s.Seq >= lo && s.Seq < hi {
			full++
			if s.EdgeBytes != peers*s.Size {
				t.Errorf("CDN-only: segment %d: edge served %d bytes, want %d × %d", s.Seq, s.EdgeBytes, peers, s.Size)
			}
		}
		if s.EdgeBytes > peers*s.Size {
			t.Errorf("CDN-only: segment %d: edge served %d bytes, more than %d × %d", s.Seq, s.EdgeBytes, peers, s.Size)
		}
	}
	if full < 3 {
		t.Errorf("CDN-only: only %d segments played by every viewer (seq %d..%d)", full, lo, hi)
	}

	hyb := rep.Runs[ModeHybrid]
	if hyb.Offload <= 0 || hyb.P2PBytes <= 0 || hyb.LinkReceivedBytes <= 0 {
		t.Errorf("hybrid: offload %v, %d P2P bytes, %d link bytes received; want some", hyb.Offload, hyb.P2PBytes, hyb.LinkReceivedBytes)
	}
	if hyb.CDNMediaBytes >= cdn.CDNMediaBytes {
		t.Errorf("hybrid: CDN media %d bytes, not below CDN-only's %d", hyb.CDNMediaBytes, cdn.CDNMediaBytes)
	}
	return rep
}

func maxSegment(rr *RunReport) int64 {
	var m int64
	for _, s := range rr.Segments {
		m = max(m, s.Size)
	}
	return m
}

func checkXML(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	elems := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot SVG: %v", err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			elems++
		}
	}
	if elems < 10 {
		t.Errorf("plot SVG has %d elements", elems)
	}
}
