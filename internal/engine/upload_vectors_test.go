package engine

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// The committed testdata/upload/vectors.json is what the browser SDK's upload
// line (sdk/web/src/upload.ts) is checked against; -update rewrites it from
// uploadScripts below and the uploader as it is now:
//
//	go test ./internal/engine -run TestUploadVectors -update
//
// Without -update the test fails when the uploader no longer gives the
// committed answers, so a rule change cannot skip the SDK. Format:
// docs/upload-vectors.md.
var updateUpload = flag.Bool("update", false, "rewrite testdata/upload/vectors.json from the uploader")

const uploadVectorsPath = "../../testdata/upload/vectors.json"

type upFile struct {
	Comment         []string   `json:"comment"`
	BusyBacklogMs   float64    `json:"busy_backlog_ms"`
	MaxQueuedPieces int        `json:"max_queued_pieces"`
	Vectors         []upVector `json:"vectors"`
}

type upVector struct {
	Name     string      `json:"name"`
	RateBps  int64       `json:"rate_bps"` // bit/s; 0: uncapped
	Segments []upSegment `json:"segments"`
	Links    []string    `json:"links"` // in arrival order: the release's tie order
	Steps    []upStep    `json:"steps"`
}

type upSegment struct {
	Seq  string `json:"seq"`
	Size int64  `json:"size"`
}

// upStep is one input at at_ms and, filled by the uploader, its answer.
type upStep struct {
	AtMs float64 `json:"at_ms"`
	Op   string  `json:"op"` // request, release, written, cancel, drop
	Link string  `json:"link,omitempty"`
	// request and cancel: pieces [first, first+count) of seq.
	Seq   string `json:"seq,omitempty"`
	First int    `json:"first,omitempty"`
	Count int    `json:"count,omitempty"`
	// request: which of them are of our stripe, and whether a fresher
	// segment's piece may be withdrawn (live) or not (on demand).
	Seeded   []int `json:"seeded,omitempty"`
	Displace bool  `json:"displace,omitempty"`
	// Answers. request: how many were queued (the rest: REJECT over_cap) and
	// the queued pieces withdrawn to make room (each: REJECT over_cap to its
	// requester). release: the pieces handed to writers, in order, and when
	// the next one's tokens are there (null: none waits for tokens).
	Accepted  *int      `json:"accepted,omitempty"`
	Withdrawn []upPiece `json:"withdrawn,omitempty"`
	Sent      []upPiece `json:"sent,omitempty"`
	WakeMs    *float64  `json:"wake_ms,omitempty"`
}

type upPiece struct {
	Link  string `json:"link"`
	Seq   string `json:"seq"`
	Piece int    `json:"piece"`
}

var upT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func upAt(ms float64) time.Time { return upT0.Add(time.Duration(ms * float64(time.Millisecond))) }

// Rates in bit/s for a number of 16 KiB pieces per second.
func piecesPerSec(n float64) int64 { return int64(n * wire.PieceSize * 8) }

func req(at float64, link, seq string, first, count int, seeded ...int) upStep {
	return upStep{AtMs: at, Op: "request", Link: link, Seq: seq, First: first, Count: count, Seeded: seeded, Displace: true}
}
func rel(at float64) upStep                  { return upStep{AtMs: at, Op: "release"} }
func written(at float64, link string) upStep { return upStep{AtMs: at, Op: "written", Link: link} }

// uploadScripts are the golden inputs; the answers come from the uploader.
// 40 pieces/s: a piece every 25 ms, a 200 ms backlog of 8 pieces.
var uploadScripts = []upVector{
	{Name: "paced, oldest segment first across links, the writer holds one piece", RateBps: piecesPerSec(40),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}, {"102", 24 * wire.PieceSize}}, Links: []string{"b", "c"},
		Steps: []upStep{req(0, "b", "102", 0, 2), req(0, "c", "100", 0, 2), rel(0), rel(26), rel(52),
			written(60, "c"), rel(60), rel(78), written(80, "b"), rel(80), written(90, "c"), rel(104), written(110, "b"), rel(130)}},
	{Name: "our stripe first within a segment, never before an older segment", RateBps: 0,
		Segments: []upSegment{{"100", 24 * wire.PieceSize}, {"101", 24 * wire.PieceSize}}, Links: []string{"a", "b"},
		Steps: []upStep{req(0, "a", "101", 0, 4, 3), req(0, "b", "100", 5, 1), req(0, "a", "100", 0, 1), rel(0), written(1, "a"), written(1, "b"), rel(1),
			written(2, "a"), rel(2), written(3, "a"), rel(3)}},
	{Name: "the backlog holds 200 ms at the cap; one piece always fits an empty one", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}}, Links: []string{"a", "b"},
		Steps: []upStep{req(0, "a", "100", 0, 4), req(0, "b", "100", 4, 1), rel(0), rel(101), req(101, "b", "100", 4, 1), req(101, "b", "100", 5, 1)}},
	{Name: "a backlog below one piece still takes one", RateBps: piecesPerSec(2),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}}, Links: []string{"a", "b"},
		Steps: []upStep{req(0, "a", "100", 0, 2), req(0, "b", "100", 2, 1), rel(0), rel(501), req(501, "b", "100", 2, 1)}},
	{Name: "a short last piece", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 2*wire.PieceSize + 1000}}, Links: []string{"a"},
		Steps: []upStep{req(0, "a", "100", 0, 2), req(0, "a", "100", 2, 1), rel(0), rel(101), written(101, "a"), req(101, "a", "100", 2, 1), rel(202), written(202, "a"), rel(210), rel(300)}},
	{Name: "an older segment displaces the freshest queued piece", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}, {"101", 24 * wire.PieceSize}, {"102", 24 * wire.PieceSize}}, Links: []string{"b", "c", "d"},
		Steps: []upStep{req(0, "b", "101", 0, 1), req(0, "c", "102", 0, 1), req(0, "d", "102", 1, 1), req(0, "d", "100", 0, 2),
			req(0, "b", "100", 2, 1), rel(0), rel(101)}},
	{Name: "pieces of our stripe are not withdrawn; the same segment displaces nothing", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}, {"102", 24 * wire.PieceSize}}, Links: []string{"b", "c"},
		Steps: []upStep{req(0, "b", "102", 0, 2, 0, 1), req(0, "c", "100", 0, 1), req(0, "c", "102", 2, 1)}},
	{Name: "on demand nothing is displaced", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}, {"102", 24 * wire.PieceSize}}, Links: []string{"b", "c"},
		Steps: []upStep{req(0, "b", "102", 0, 2), {AtMs: 0, Op: "request", Link: "c", Seq: "100", First: 0, Count: 1}}},
	{Name: "equal keys: the link whose turn has waited longest (ties: arrival order)", RateBps: 0,
		Segments: []upSegment{{"100", 24 * wire.PieceSize}}, Links: []string{"a", "b", "c"},
		Steps: []upStep{req(0, "c", "100", 0, 2), req(0, "a", "100", 2, 2), req(0, "b", "100", 4, 2), rel(0),
			written(5, "b"), written(5, "a"), rel(5), written(9, "c"), rel(9)}},
	{Name: "cancel and drop take queued pieces out", RateBps: piecesPerSec(10),
		Segments: []upSegment{{"100", 24 * wire.PieceSize}}, Links: []string{"a", "b"},
		Steps: []upStep{req(0, "a", "100", 0, 1), req(0, "b", "100", 1, 1), {AtMs: 0, Op: "cancel", Link: "a", Seq: "100", First: 0, Count: 1},
			req(0, "b", "100", 2, 1), {AtMs: 0, Op: "drop", Link: "b"}, req(0, "a", "100", 3, 2), rel(0), rel(101), written(101, "a"), rel(202)}},
	{Name: "uncapped: at most 256 pieces queued per link", RateBps: 0,
		Segments: []upSegment{{"100", 250 * wire.PieceSize}, {"101", 250 * wire.PieceSize}}, Links: []string{"a"},
		Steps: []upStep{req(0, "a", "100", 0, 250), req(0, "a", "101", 0, 10)}},
}

// runUpload plays v's steps on a fresh uploader and fills in the answers.
func runUpload(t *testing.T, v upVector) upVector {
	t.Helper()
	var u uploader
	u.setRate(v.RateBps)
	segs := map[string]*segment{}
	for _, s := range v.Segments {
		seq, _ := strconv.ParseUint(s.Seq, 10, 64)
		segs[s.Seq] = &segment{id: wire.SegmentID{Epoch: "e", Seq: seq}, rec: &manifest.Record{Size: s.Size, PieceSize: wire.PieceSize}}
	}
	nbs := map[string]*neighbour{}
	var all []*neighbour
	for i, id := range v.Links {
		nb := newNeighbour(id, LinkID(i+1), 1, upT0)
		nbs[id] = nb
		all = append(all, nb)
	}
	piece := func(nb *neighbour, j job) upPiece {
		return upPiece{Link: nb.id, Seq: strconv.FormatUint(j.seg.id.Seq, 10), Piece: j.idx}
	}
	out := v
	out.Steps = nil
	for _, st := range v.Steps {
		now := upAt(st.AtMs)
		nb, s := nbs[st.Link], segs[st.Seq]
		if (st.Op != "release" && nb == nil) || ((st.Op == "request" || st.Op == "cancel") && s == nil) {
			t.Fatalf("%s: step %+v names an unknown link or segment", v.Name, st)
		}
		switch st.Op {
		case "request":
			seeded := map[int]bool{}
			for _, i := range st.Seeded {
				seeded[i] = true
			}
			var jobs []job
			for i := st.First; i < st.First+st.Count; i++ {
				jobs = append(jobs, job{seg: s, idx: i, seeded: seeded[i]})
			}
			var withdrawn []upPiece
			var evict func(*neighbour, job)
			if st.Displace {
				evict = func(o *neighbour, j job) { withdrawn = append(withdrawn, piece(o, j)) }
			}
			n := u.enqueue(nb, jobs, all, evict)
			st.Accepted, st.Withdrawn = &n, withdrawn
		case "release":
			var sent []upPiece
			u.release(now, all, func(o *neighbour, j job) { sent = append(sent, piece(o, j)) })
			st.Sent = sent
			if !u.wake.IsZero() {
				ms := float64(u.wake.Sub(upT0)) / float64(time.Millisecond)
				st.WakeMs = &ms
			}
		case "written":
			u.written(nb)
		case "cancel":
			u.cancel(nb, &s.id, st.First, st.Count)
		case "drop":
			u.cancel(nb, nil, 0, 0)
		default:
			t.Fatalf("%s: unknown op %q", v.Name, st.Op)
		}
		out.Steps = append(out.Steps, st)
	}
	return out
}

func TestUploadVectors(t *testing.T) {
	f := upFile{
		Comment: []string{
			"Golden vectors of the peer-wide upload line (internal/engine/upload.go), shared with sdk/web/src/upload.ts.",
			"Generated by: go test ./internal/engine -run TestUploadVectors -update. Format: docs/upload-vectors.md.",
		},
		BusyBacklogMs:   float64(busyBacklog) / float64(time.Millisecond),
		MaxQueuedPieces: maxQueuedPieces,
	}
	for _, v := range uploadScripts {
		f.Vectors = append(f.Vectors, runUpload(t, v))
	}
	got, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateUpload {
		if err := os.MkdirAll("../../testdata/upload", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(uploadVectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(uploadVectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the uploader no longer gives %s's answers: check the change, run with -update and port it to sdk/web/src/upload.ts", uploadVectorsPath)
	}
	// Sanity of the golden answers themselves: the rules they are meant to show.
	for _, v := range f.Vectors {
		for _, st := range v.Steps {
			if st.WakeMs != nil && (math.IsNaN(*st.WakeMs) || *st.WakeMs < st.AtMs) {
				t.Errorf("%s: wake %v before its step at %v", v.Name, *st.WakeMs, st.AtMs)
			}
		}
	}
}
