package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Modes: the two runs of every invocation.
const (
	ModeCDNOnly = "cdn_only"
	ModeHybrid  = "hybrid"
)

// Report is one invocation: the scenario, run CDN-only then hybrid.
type Report struct {
	Scenario  string  `json:"scenario"`
	Peers     int     `json:"peers"`
	DurationS float64 `json:"duration_s"`
	Transport string  `json:"transport"`
	Stream    string  `json:"stream"`
	// BitrateBPS is the stream's measured bitrate (published bytes / media time).
	BitrateBPS float64 `json:"bitrate_bps"`
	// MeanUploadBPS is the viewers' time-weighted mean uplink.
	MeanUploadBPS float64 `json:"mean_upload_bps"`
	// OffloadLimit is the physical bound min(1 − 1/N, ū/r).
	OffloadLimit float64 `json:"offload_limit"`
	// Viewers counts every viewer that took part (churn brings newcomers).
	Viewers int `json:"viewers"`
	// Speed is stream time run per wall-clock second, both runs, set-up and
	// tear-down included (StreamS / WallS); RequestedSpeed is Config.Speed,
	// the pace of the clock while a run plays.
	Speed          float64               `json:"speed"`
	RequestedSpeed float64               `json:"requested_speed"`
	StreamS        float64               `json:"stream_s"`
	WallS          float64               `json:"wall_s"`
	PeakRSSBytes   int64                 `json:"peak_rss_bytes"`
	Runs           map[string]*RunReport `json:"runs"`
	// CDNPeakRatio is the hybrid run's CDN peak over the CDN-only run's (0
	// unless both ran).
	CDNPeakRatio float64 `json:"cdn_peak_ratio,omitempty"`
}

// RunReport is what one run measured.
type RunReport struct {
	// Offload = unique verified media bytes peers got from peers / all media
	// bytes they got (P2P + the edge's media counter).
	Offload float64 `json:"offload"`
	// OffloadSteady is the offload after the warm-up (the first quarter of
	// the run, at most 20 s), when every viewer has started.
	OffloadSteady float64 `json:"offload_steady"`
	// OffloadPeers is the same ratio from the peers' own counters.
	OffloadPeers float64 `json:"offload_peer_reported"`
	// CDNBytes is the edge's own counter for the stream: every body byte.
	CDNBytes         int64   `json:"cdn_bytes"`
	CDNMediaBytes    int64   `json:"cdn_media_bytes"`
	CDNOverheadBytes int64   `json:"cdn_overhead_bytes"` // playlists, records, key
	CDNPeakMbps      float64 `json:"cdn_peak_mbps"`      // highest 1 s average
	// CDNShareAll is the CDN's share of every byte viewers got, playlists,
	// records and the key included: (CDN media + overhead) / (that + P2P).
	CDNShareAll float64 `json:"cdn_share_with_overhead"`
	// EdgeRequestsPerS counts every request the edge answered, per second
	// (virtual clock only: 0 in real time).
	EdgeRequestsPerS float64 `json:"edge_requests_per_s,omitempty"`
	// FreshPieceMs*: for every piece, the time from its first copy leaving
	// the edge until the last viewer already watching then verified it
	// (virtual clock only).
	FreshPieceMsP50 float64 `json:"fresh_piece_all_ms_p50,omitempty"`
	FreshPieceMsP95 float64 `json:"fresh_piece_all_ms_p95,omitempty"`
	CDNMeanMbps     float64 `json:"cdn_mean_mbps"`
	// CDNCopiesPerSegment is edge media bytes / segment size, over the
	// segments the edge served.
	CDNCopiesPerSegment float64 `json:"cdn_copies_per_segment"`
	// CDNCopiesSteady is the same over the segments published after the
	// warm-up and played by every viewer before the end (0: none).
	CDNCopiesSteady float64 `json:"cdn_copies_per_segment_steady"`
	StartupMsP50    float64 `json:"startup_ms_p50"`
	StartupMsP95    float64 `json:"startup_ms_p95"`
	RebufferRatio   float64 `json:"rebuffer_ratio"`
	Stalls          int     `json:"stalls"`
	LatencyMsP50    float64 `json:"latency_ms_p50"`
	LatencyMsP95    float64 `json:"latency_ms_p95"`
	// On a title (vod.go): seeks after startup, and their time to the segment
	// at the new position.
	Seeks     int     `json:"seeks,omitempty"`
	SeekMsP50 float64 `json:"seek_ms_p50,omitempty"`
	SeekMsP95 float64 `json:"seek_ms_p95,omitempty"`

	P2PBytes    int64 `json:"p2p_bytes"`
	UploadBytes int64 `json:"upload_bytes"`
	// UploadUsed is upload bytes / what the viewers' uplinks could carry
	// while they watched.
	UploadUsed float64 `json:"upload_used"`
	// Overhead: duplicate pieces (two sources raced), wasted pieces (arrived
	// after they were no longer needed: cancelled, timed out, segment out of
	// the window), and wire framing (link bytes beyond piece payload;
	// emulated transport only).
	DuplicateBytes int64 `json:"duplicate_bytes"`
	WastedBytes    int64 `json:"wasted_bytes"`
	FramingBytes   int64 `json:"framing_bytes"`
	BadPieces      int64 `json:"bad_pieces"`
	// EdgePieces counts the pieces the engines asked the edge for, by reason
	// (peer.Stats.EdgePieces): P2P off, urgent, seeding a stripe, fallback.
	EdgePieces EdgePieces `json:"edge_pieces"`

	// Link counters of the emulated network (payload bytes of messages).
	LinkSentBytes     int64 `json:"link_sent_bytes"`
	LinkReceivedBytes int64 `json:"link_received_bytes"`
	LinkDroppedBytes  int64 `json:"link_dropped_bytes"` // sent but unread when a link closed

	// PeerCDNMediaBytes is the media bytes the viewers' HTTP clients read,
	// to compare with CDNMediaBytesFinal, the edge's media bytes once every
	// viewer stopped (a body cut by a viewer's exit is counted by the edge as
	// far as the connection accepted it, by the client as far as it read).
	PeerCDNMediaBytes  int64 `json:"peer_cdn_media_bytes"`
	CDNMediaBytesFinal int64 `json:"cdn_media_bytes_final"`
	// EdgeCounterAgrees: once every handler returned, the counting wrapper's
	// total equals edge.BytesServed.
	EdgeCounterAgrees bool `json:"edge_counter_agrees"`

	PeersStarted       int `json:"peers_started"`
	PeersNotStarted    int `json:"peers_not_started"`
	SegmentsPlayed     int `json:"segments_played"`
	SegmentsChecked    int `json:"segments_checked"`
	SegmentsMismatched int `json:"segments_mismatched"`

	// WallS is the run's real duration, StreamS the same on the run's clock;
	// every other duration and rate of the report is in stream time.
	WallS   float64 `json:"wall_s"`
	StreamS float64 `json:"stream_s"`
	// Events is the virtual-time run's event count (0: real time).
	Events uint64 `json:"events,omitempty"`
	// Plans counts the engines' scheduler plans, their main work.
	Plans    int64           `json:"plans"`
	Series   []Sample        `json:"series"`
	Segments []SegmentReport `json:"segments"`
	Viewers  []ViewerReport  `json:"viewers"`
	// Classes groups the viewers by uplink (heterogeneous has three).
	Classes []ClassReport `json:"classes"`
}

// ClassReport sums the viewers of one uplink class.
type ClassReport struct {
	UpBPS         float64 `json:"up_bps"`
	Viewers       int     `json:"viewers"`
	Stalled       int     `json:"viewers_stalled"`
	Stalls        int     `json:"stalls"`
	Offload       float64 `json:"offload"` // P2P / (P2P + CDN media) of the class's viewers
	UploadBytes   int64   `json:"upload_bytes"`
	CDNMediaBytes int64   `json:"cdn_media_bytes"`
}

// EdgePieces splits edge piece requests by the scheduler's reason.
type EdgePieces struct {
	P2POff   int `json:"p2p_off"`
	Urgent   int `json:"urgent"`
	Seed     int `json:"seed"`
	Fallback int `json:"fallback"`
}

// SegmentReport is what the edge served of one segment.
type SegmentReport struct {
	Seq       uint64 `json:"seq"`
	Size      int64  `json:"size"`
	EdgeBytes int64  `json:"edge_bytes"`
}

// ViewerReport is one viewer's figures.
type ViewerReport struct {
	Name          string  `json:"name"`
	JoinS         float64 `json:"join_s"`
	LeaveS        float64 `json:"leave_s,omitempty"`
	UpBPS         float64 `json:"up_bps"`
	Started       bool    `json:"started"`
	StartSeq      uint64  `json:"start_seq"`
	Played        int     `json:"played"`
	StartupMs     float64 `json:"startup_ms"`
	Stalls        int     `json:"stalls"`
	CDNMediaBytes int64   `json:"cdn_media_bytes"` // read by its HTTP client
	P2PBytes      int64   `json:"p2p_bytes"`
	UploadBytes   int64   `json:"upload_bytes"`
	Checked       int     `json:"segments_checked"`
	Mismatched    int     `json:"segments_mismatched"`
}

// Sample is one second of a run.
type Sample struct {
	TS       float64 `json:"t_s"`
	CDNMbps  float64 `json:"cdn_mbps"`
	Offload  float64 `json:"offload"` // of the bytes received in this second
	Watching int     `json:"watching"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJSONFile writes r to path.
func (r *Report) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return f.Close()
}

// WriteText prints the two runs side by side.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "scenario %s: %d peers (%d viewers in all), %v per run, %s transport, stream %.2f Mbit/s, mean upload %.2f Mbit/s (%.2f× bitrate)\n",
		r.Scenario, r.Peers, r.Viewers, time.Duration(r.DurationS*float64(time.Second)), r.Transport,
		r.BitrateBPS/1e6, r.MeanUploadBPS/1e6, r.MeanUploadBPS/max(1, r.BitrateBPS))
	fmt.Fprintf(w, "physical limit: offload ≤ min(1 − 1/N, ū/r) = %.1f%%\n", 100*r.OffloadLimit)
	fmt.Fprintf(w, "%.1f s of stream in %.1f s wall time (set-up included): speed %.2f× real time (clock set to %g×), peak RSS %.0f MiB\n\n",
		r.StreamS, r.WallS, r.Speed, r.RequestedSpeed, float64(r.PeakRSSBytes)/(1<<20))
	cols := []string{ModeCDNOnly, ModeHybrid}
	var runs []*RunReport
	var names []string
	for _, c := range cols {
		if rr := r.Runs[c]; rr != nil {
			runs = append(runs, rr)
			names = append(names, strings.ReplaceAll(c, "_", "-"))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(names, "\t"))
	row := func(label string, f func(*RunReport) string) {
		cells := make([]string, len(runs))
		for i, rr := range runs {
			cells[i] = f(rr)
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", label, strings.Join(cells, "\t"))
	}
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	ms := func(x float64) string { return fmt.Sprintf("%.0f ms", x) }
	row("offload (edge counter)", func(rr *RunReport) string { return pct(rr.Offload) })
	row("offload after warm-up", func(rr *RunReport) string { return pct(rr.OffloadSteady) })
	row("offload (peer counters)", func(rr *RunReport) string { return pct(rr.OffloadPeers) })
	row("CDN egress", func(rr *RunReport) string { return mib(rr.CDNBytes) })
	row("  media / overhead", func(rr *RunReport) string {
		return mib(rr.CDNMediaBytes) + " / " + mib(rr.CDNOverheadBytes)
	})
	row("CDN peak / mean", func(rr *RunReport) string {
		return fmt.Sprintf("%.1f / %.1f Mbit/s", rr.CDNPeakMbps, rr.CDNMeanMbps)
	})
	row("CDN share incl. playlists", func(rr *RunReport) string { return pct(rr.CDNShareAll) })
	if r.Transport == TransportVirtual {
		row("edge requests", func(rr *RunReport) string { return fmt.Sprintf("%.0f/s", rr.EdgeRequestsPerS) })
		row("fresh piece to all p50 / p95", func(rr *RunReport) string {
			return ms(rr.FreshPieceMsP50) + " / " + ms(rr.FreshPieceMsP95)
		})
	}
	row("CDN copies per segment", func(rr *RunReport) string { return fmt.Sprintf("%.2f", rr.CDNCopiesPerSegment) })
	row("copies after warm-up", func(rr *RunReport) string { return fmt.Sprintf("%.2f", rr.CDNCopiesSteady) })
	row("edge pieces: urgent/seed/fallback", func(rr *RunReport) string {
		e := rr.EdgePieces
		return fmt.Sprintf("%d / %d / %d", e.Urgent, e.Seed, e.Fallback)
	})
	row("startup p50 / p95", func(rr *RunReport) string { return ms(rr.StartupMsP50) + " / " + ms(rr.StartupMsP95) })
	row("rebuffer ratio", func(rr *RunReport) string { return fmt.Sprintf("%.4f", rr.RebufferRatio) })
	row("stalls", func(rr *RunReport) string { return fmt.Sprint(rr.Stalls) })
	row("latency p50 / p95", func(rr *RunReport) string { return ms(rr.LatencyMsP50) + " / " + ms(rr.LatencyMsP95) })
	if slices.ContainsFunc(runs, func(rr *RunReport) bool { return rr.Seeks > 0 }) {
		row("seeks, time p50 / p95", func(rr *RunReport) string {
			return fmt.Sprintf("%d, %s / %s", rr.Seeks, ms(rr.SeekMsP50), ms(rr.SeekMsP95))
		})
	}
	row("peer upload (used)", func(rr *RunReport) string { return mib(rr.UploadBytes) + " (" + pct(rr.UploadUsed) + ")" })
	row("overhead: duplicates", func(rr *RunReport) string { return mib(rr.DuplicateBytes) })
	row("overhead: wasted", func(rr *RunReport) string { return mib(rr.WastedBytes) })
	row("overhead: framing", func(rr *RunReport) string {
		if r.Transport != TransportEmulated {
			return "n/a" // pion does not expose its SCTP byte counts here
		}
		return mib(rr.FramingBytes)
	})
	row("peers started / not", func(rr *RunReport) string { return fmt.Sprintf("%d / %d", rr.PeersStarted, rr.PeersNotStarted) })
	row("segments checked / bad", func(rr *RunReport) string {
		return fmt.Sprintf("%d of %d / %d", rr.SegmentsChecked, rr.SegmentsPlayed, rr.SegmentsMismatched)
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.CDNPeakRatio > 0 {
		fmt.Fprintf(w, "CDN peak, hybrid / CDN-only: %.1f%%\n", 100*r.CDNPeakRatio)
	}
	if hy := r.Runs[ModeHybrid]; hy != nil && len(hy.Classes) > 1 {
		fmt.Fprintln(w, "\nhybrid, by uplink:")
		for _, c := range hy.Classes {
			fmt.Fprintf(w, "  %5.2f Mbit/s: %3d viewers, offload %5.1f%%, %d stalls in %d viewers, uploaded %s\n",
				c.UpBPS/1e6, c.Viewers, 100*c.Offload, c.Stalls, c.Stalled, mib(c.UploadBytes))
		}
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
