package scheduler

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The committed testdata/scheduler/vectors.json is what the browser SDK's port
// (sdk/web/src/scheduler.ts) is checked against; -update rewrites it from
// goldenStates below and Schedule as it is now:
//
//	go test ./internal/scheduler -run TestVectors -update
//
// Without -update the test fails when Schedule no longer produces the committed
// plans, so a rule change cannot skip the SDK. Format: docs/scheduler-vectors.md.
var update = flag.Bool("update", false, "rewrite testdata/scheduler/vectors.json from Schedule")

const schedVectorsPath = "../../testdata/scheduler/vectors.json"

type vecFile struct {
	Comment  []string  `json:"comment"`
	Defaults vecPolicy `json:"defaults"` // Policy{}.WithDefaults()
	Vectors  []vector  `json:"vectors"`
}

type vector struct {
	Name  string   `json:"name"`
	State vecState `json:"state"`
	Plan  vecPlan  `json:"plan"`
}

// Times are milliseconds after t0 and durations milliseconds, as JSON numbers
// (a fraction carries Go's nanosecond resolution); seqs are decimal strings
// (uint64 does not fit a JSON number); bitfields are sorted piece indices.
type vecState struct {
	NowMs      float64        `json:"now_ms"`
	Self       string         `json:"self"`
	Policy     vecPolicy      `json:"policy"`
	Segments   []vecSegment   `json:"segments"`
	Neighbours []vecNeighbour `json:"neighbours"`
	InFlight   []vecPending   `json:"in_flight"`
}

type vecPolicy struct {
	P2P               bool      `json:"p2p"`
	UrgentMs          float64   `json:"urgent_ms"`
	HandoverMs        float64   `json:"handover_ms"`
	FallbackWindowMs  float64   `json:"fallback_window_ms"`
	MaxOutstanding    int       `json:"max_outstanding"`
	QueueTargetMs     float64   `json:"queue_target_ms"`
	TimeoutFactor     float64   `json:"timeout_factor"`
	MinTimeoutMs      float64   `json:"min_timeout_ms"`
	DefaultThroughput float64   `json:"default_throughput"`
	Stripe            vecStripe `json:"stripe"`
	SeedMarginMs      float64   `json:"seed_margin_ms"`
	NoUpload          bool      `json:"no_upload"`
}

type vecStripe struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

type vecSegment struct {
	Seq        string   `json:"seq"`
	Size       int64    `json:"size"`
	PieceSize  int      `json:"piece_size"`
	DeadlineMs *float64 `json:"deadline_ms"` // null: the zero time ("needed now")
	Have       []int    `json:"have"`
}

type vecNeighbour struct {
	ID         string           `json:"id"`
	Have       map[string][]int `json:"have"` // seq → pieces
	Throughput float64          `json:"throughput"`
	RTTMs      float64          `json:"rtt_ms"`
	Choking    bool             `json:"choking"`
	NoUpload   bool             `json:"no_upload"`
}

type vecPending struct {
	Seq     string  `json:"seq"`
	Piece   int     `json:"piece"`
	From    string  `json:"from"`
	SinceMs float64 `json:"since_ms"`
}

type vecRun struct {
	From  string `json:"from"`
	Seq   string `json:"seq"`
	First int    `json:"first"`
	Count int    `json:"count"`
	Why   string `json:"why"`
}

type vecPlan struct {
	Edge     []vecRun     `json:"edge"`
	Requests []vecRun     `json:"requests"`
	Cancels  []vecPending `json:"cancels"`
	WakeMs   *float64     `json:"wake_ms"` // null: no wake
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func durOf(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}
func atMs(t time.Time) float64    { return msOf(t.Sub(t0)) }
func timeOf(ms float64) time.Time { return t0.Add(durOf(ms)) }

func seqOf(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bitsList(b Bitfield) []int {
	out := []int{}
	for i := range len(b) * 64 {
		if b.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

func bitsFrom(l []int) Bitfield {
	if len(l) == 0 {
		return nil
	}
	b := NewBitfield(l[len(l)-1] + 1)
	for _, i := range l {
		b.Set(i)
	}
	return b
}

func encPolicy(p Policy) vecPolicy {
	return vecPolicy{
		P2P: p.P2P, UrgentMs: msOf(p.Urgent), HandoverMs: msOf(p.Handover),
		FallbackWindowMs: msOf(p.FallbackWindow), MaxOutstanding: p.MaxOutstanding,
		QueueTargetMs: msOf(p.QueueTarget), TimeoutFactor: p.TimeoutFactor,
		MinTimeoutMs: msOf(p.MinTimeout), DefaultThroughput: p.DefaultThroughput,
		Stripe: vecStripe{p.Stripe.Index, p.Stripe.Count}, SeedMarginMs: msOf(p.SeedMargin),
		NoUpload: p.NoUpload,
	}
}

func decPolicy(v vecPolicy) Policy {
	return Policy{
		P2P: v.P2P, Urgent: durOf(v.UrgentMs), Handover: durOf(v.HandoverMs),
		FallbackWindow: durOf(v.FallbackWindowMs), MaxOutstanding: v.MaxOutstanding,
		QueueTarget: durOf(v.QueueTargetMs), TimeoutFactor: v.TimeoutFactor,
		MinTimeout: durOf(v.MinTimeoutMs), DefaultThroughput: v.DefaultThroughput,
		Stripe: Stripe{v.Stripe.Index, v.Stripe.Count}, SeedMargin: durOf(v.SeedMarginMs),
		NoUpload: v.NoUpload,
	}
}

func encPending(p Pending) vecPending {
	return vecPending{strconv.FormatUint(p.Seq, 10), p.Piece, p.From, atMs(p.Since)}
}

// encState writes st with its policy after WithDefaults, so that readers need
// no defaults of their own (the defaults are checked separately).
func encState(st State) vecState {
	v := vecState{NowMs: atMs(st.Now), Self: st.Self, Policy: encPolicy(st.Policy.WithDefaults()),
		Segments: []vecSegment{}, Neighbours: []vecNeighbour{}, InFlight: []vecPending{}}
	for _, s := range st.Segments {
		vs := vecSegment{Seq: strconv.FormatUint(s.Seq, 10), Size: s.Size, PieceSize: s.PieceSize, Have: bitsList(s.Have)}
		if !s.Deadline.IsZero() {
			d := atMs(s.Deadline)
			vs.DeadlineMs = &d
		}
		v.Segments = append(v.Segments, vs)
	}
	for _, n := range st.Neighbours {
		vn := vecNeighbour{ID: n.ID, Have: map[string][]int{}, Throughput: n.Throughput, RTTMs: msOf(n.RTT), Choking: n.Choking, NoUpload: n.NoUpload}
		for _, h := range n.Have {
			vn.Have[strconv.FormatUint(h.Seq, 10)] = bitsList(h.Have)
		}
		v.Neighbours = append(v.Neighbours, vn)
	}
	for _, p := range st.InFlight {
		v.InFlight = append(v.InFlight, encPending(p))
	}
	return v
}

func decState(t *testing.T, v vecState) State {
	st := State{Now: timeOf(v.NowMs), Self: v.Self, Policy: decPolicy(v.Policy)}
	for _, s := range v.Segments {
		seg := Segment{Seq: seqOf(t, s.Seq), Size: s.Size, PieceSize: s.PieceSize, Have: bitsFrom(s.Have)}
		if s.DeadlineMs != nil {
			seg.Deadline = timeOf(*s.DeadlineMs)
		}
		st.Segments = append(st.Segments, seg)
	}
	for _, n := range v.Neighbours {
		nb := Neighbour{ID: n.ID, Throughput: n.Throughput, RTT: durOf(n.RTTMs), Choking: n.Choking, NoUpload: n.NoUpload}
		for seq, l := range n.Have {
			nb.Have.Set(seqOf(t, seq), bitsFrom(l))
		}
		st.Neighbours = append(st.Neighbours, nb)
	}
	for _, p := range v.InFlight {
		st.InFlight = append(st.InFlight, Pending{seqOf(t, p.Seq), p.Piece, p.From, timeOf(p.SinceMs)})
	}
	return st
}

func encPlan(p Plan) vecPlan {
	v := vecPlan{Edge: []vecRun{}, Requests: []vecRun{}, Cancels: []vecPending{}}
	run := func(r Run) vecRun {
		return vecRun{r.From, strconv.FormatUint(r.Seq, 10), r.First, r.Count, r.Why.String()}
	}
	for _, r := range p.Edge {
		v.Edge = append(v.Edge, run(r))
	}
	for _, r := range p.Requests {
		v.Requests = append(v.Requests, run(r))
	}
	for _, c := range p.Cancels {
		v.Cancels = append(v.Cancels, encPending(c))
	}
	if !p.Wake.IsZero() {
		w := atMs(p.Wake)
		v.WakeMs = &w
	}
	return v
}

var vecComment = []string{
	"Golden vectors of the piece scheduler (internal/scheduler): state → Schedule(state).",
	"Generated by `go test ./internal/scheduler -run TestVectors -update`; checked by that test and sdk/web/test/scheduler.test.ts.",
	"Times are ms after an arbitrary t0, durations ms (a fraction is Go's ns resolution); seq is a decimal string; bitfields are piece indices.",
	"Policies are written after WithDefaults; `defaults` is Policy{}.WithDefaults(). Format: docs/scheduler-vectors.md.",
}

func buildVectors(t *testing.T) vecFile {
	f := vecFile{Comment: vecComment, Defaults: encPolicy(Policy{}.WithDefaults())}
	for _, g := range goldenStates() {
		f.Vectors = append(f.Vectors, vector{Name: g.name, State: encState(g.st), Plan: encPlan(Schedule(g.st))})
	}
	return f
}

func marshalVectors(t *testing.T, f vecFile) []byte {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// Piece lists on one line each: the file is read by people too.
	b = numberList.ReplaceAllFunc(b, func(m []byte) []byte {
		return append(append([]byte("["), bytes.Join(bytes.Fields(bytes.ReplaceAll(m[1:len(m)-1], []byte(","), []byte(" "))), []byte(", "))...), ']')
	})
	return append(b, '\n')
}

var numberList = regexp.MustCompile(`\[\s*-?\d+(,\s*-?\d+)*\s*\]`)

func TestVectors(t *testing.T) {
	want := buildVectors(t)
	names := map[string]bool{}
	for _, v := range want.Vectors {
		if names[v.Name] {
			t.Fatalf("duplicate vector name %q", v.Name)
		}
		names[v.Name] = true
		// Inputs are whole milliseconds so that both languages compute them exactly.
		st := v.State
		whole := func(ms float64) bool { return ms == math.Trunc(ms) }
		ok := whole(st.NowMs)
		for _, s := range st.Segments {
			ok = ok && (s.DeadlineMs == nil || whole(*s.DeadlineMs))
		}
		for _, p := range st.InFlight {
			ok = ok && whole(p.SinceMs)
		}
		for _, n := range st.Neighbours {
			ok = ok && whole(n.RTTMs)
		}
		if !ok {
			t.Errorf("%s: an input time is not a whole millisecond", v.Name)
		}
	}
	b := marshalVectors(t, want)
	if *update {
		if err := os.MkdirAll("../../testdata/scheduler", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schedVectorsPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d vectors to %s", len(want.Vectors), schedVectorsPath)
		return
	}
	committed, err := os.ReadFile(schedVectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, b) {
		t.Fatalf("%s differs from Schedule now: rerun with -update (and check sdk/web/src/scheduler.ts follows)", schedVectorsPath)
	}
	// The JSON form must be lossless: reading a committed state back gives the
	// same plan, as it does for the SDK.
	var f vecFile
	if err := json.Unmarshal(committed, &f); err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Vectors {
		st := decState(t, v.State)
		got := encPlan(Schedule(st))
		if g, w := jsonOf(t, got), jsonOf(t, v.Plan); !bytes.Equal(g, w) {
			t.Errorf("%s: decoded state plans\n%s\nwant\n%s", v.Name, g, w)
		}
		if g, w := jsonOf(t, encState(st)), jsonOf(t, want.Vectors[i].State); !bytes.Equal(g, w) {
			t.Errorf("%s: state does not round-trip:\n%s\n%s", v.Name, g, w)
		}
	}
}

// TestScratchPlansAsSchedule: one Scratch planning every vector in turn, and
// then in reverse (so that each plan follows a larger or smaller one), gives
// Schedule's plan each time: nothing of one plan leaks into the next.
func TestScratchPlansAsSchedule(t *testing.T) {
	vs := buildVectors(t).Vectors
	var sc Scratch
	for pass := range 2 {
		for k := range vs {
			v := vs[k]
			if pass == 1 {
				v = vs[len(vs)-1-k]
			}
			st := decState(t, v.State)
			if g, w := jsonOf(t, encPlan(sc.Schedule(st))), jsonOf(t, encPlan(Schedule(st))); !bytes.Equal(g, w) {
				t.Errorf("%s (pass %d): Scratch plans\n%s\nSchedule\n%s", v.Name, pass, g, w)
			}
		}
	}
}

func TestVectorsCoverEveryReason(t *testing.T) {
	seen := map[string]bool{}
	cancels, wakes, requests := 0, 0, 0
	for _, v := range buildVectors(t).Vectors {
		for _, r := range v.Plan.Edge {
			seen[r.Why] = true
		}
		cancels += len(v.Plan.Cancels)
		requests += len(v.Plan.Requests)
		if v.Plan.WakeMs != nil {
			wakes++
		}
	}
	for _, r := range []Reason{ReasonP2POff, ReasonUrgent, ReasonSeed, ReasonFallback} {
		if !seen[r.String()] {
			t.Errorf("no vector has an edge run for %s", r)
		}
	}
	if cancels == 0 || wakes == 0 || requests == 0 {
		t.Errorf("vectors lack cancels (%d), wakes (%d) or requests (%d)", cancels, wakes, requests)
	}
}

type goldenState struct {
	name string
	st   State
}

// Helpers for the table: times are ms after t0.
func vAt(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func vSeg(seq uint64, n int, dueMs int, have ...int) Segment {
	return Segment{Seq: seq, Size: int64(n) * DefaultPieceSize, Deadline: vAt(dueMs), Have: pieces(n, have...)}
}

func vNb(id string, have map[uint64]Bitfield) Neighbour {
	return Neighbour{ID: id, RTT: 20 * time.Millisecond, Throughput: 1 << 20, Have: HavesOf(have)}
}

func vPend(seq uint64, piece int, from string, sinceMs int) Pending {
	return Pending{Seq: seq, Piece: piece, From: from, Since: vAt(sinceMs)}
}

func span(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

func goldenStates() []goldenState {
	p2p := Policy{P2P: true}
	now := vAt(10000)
	st := func(pol Policy, segs []Segment, nbs []Neighbour, inflight ...Pending) State {
		return State{Now: now, Self: "peer-a", Policy: pol, Segments: segs, Neighbours: nbs, InFlight: inflight}
	}
	stripe := func(i, c int) Policy { return Policy{P2P: true, Stripe: Stripe{i, c}} }
	withSelf := func(s State, self string) State { s.Self = self; return s }
	withNow := func(s State, ms int) State { s.Now = vAt(ms); return s }

	// A 2 MB segment at 2 Mbit/s: 31 pieces, the last one short.
	long := Segment{Seq: 41, Size: 500000, Deadline: vAt(16000)}
	tie := st(p2p, []Segment{vSeg(9, 24, 14000)},
		[]Neighbour{{ID: "slow", RTT: 100 * time.Millisecond, Throughput: 64 << 10, Have: HavesOf(map[uint64]Bitfield{9: full(24)})}})

	return []goldenState{
		{"p2p_off_everything_from_edge", st(Policy{},
			[]Segment{vSeg(1, 6, 20000, 2), vSeg(2, 4, 22000)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{1: full(6), 2: full(4)})},
			vPend(1, 3, "n1", 9900))},
		{"p2p_off_keeps_edge_requests", st(Policy{},
			[]Segment{vSeg(1, 5, 20000)}, nil,
			vPend(1, 0, Edge, 9000), vPend(1, 1, Edge, 9000))},
		{"urgent_from_edge_around_held_pieces", st(p2p,
			[]Segment{vSeg(7, 8, 11000, 0, 3, 4)}, nil)},
		{"urgent_even_when_a_neighbour_has_it", st(p2p,
			[]Segment{vSeg(7, 6, 11499)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{7: full(6)})})},
		{"urgent_boundary_is_urgent", st(p2p,
			[]Segment{vSeg(7, 3, 11500), vSeg(8, 3, 11501)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{7: full(3), 8: full(3)})})},
		{"zero_deadline_is_needed_now", st(p2p,
			[]Segment{{Seq: 3, Size: 3 * DefaultPieceSize}},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{3: full(3)})})},
		{"handover_lets_a_request_finish", st(p2p,
			[]Segment{vSeg(5, 4, 11000)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{5: full(4)})},
			vPend(5, 1, "n1", 9800), vPend(5, 2, "n1", 9800))},
		{"handover_boundary_cancels_to_edge", st(p2p,
			[]Segment{vSeg(5, 4, 10750)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{5: full(4)})},
			vPend(5, 1, "n1", 9900))},
		{"handover_timeout_in_urgent_window", st(p2p,
			[]Segment{vSeg(5, 4, 11200)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{5: full(4)})},
			vPend(5, 0, "n1", 9000))},
		{"neighbour_default_throughput_bound", st(p2p,
			[]Segment{vSeg(12, 10, 16000)},
			[]Neighbour{{ID: "n1", Have: HavesOf(map[uint64]Bitfield{12: full(10)})}})},
		{"neighbour_bound_from_throughput_and_rtt", st(p2p,
			[]Segment{long},
			[]Neighbour{{ID: "n1", RTT: 50 * time.Millisecond, Throughput: 1e6, Have: HavesOf(map[uint64]Bitfield{41: full(31)})}})},
		{"neighbour_bound_max_outstanding", st(Policy{P2P: true, MaxOutstanding: 5},
			[]Segment{long},
			[]Neighbour{{ID: "n1", RTT: 10 * time.Millisecond, Throughput: 100 << 20, Have: HavesOf(map[uint64]Bitfield{41: full(31)})}})},
		{"neighbour_bound_counts_outstanding", st(p2p,
			[]Segment{vSeg(12, 10, 16000)},
			[]Neighbour{{ID: "n1", Have: HavesOf(map[uint64]Bitfield{12: full(10)})}},
			vPend(12, 0, "n1", 9900), vPend(12, 1, "n1", 9950), vPend(12, 2, "n1", 9990))},
		{"rarest_first", st(Policy{P2P: true, MaxOutstanding: 3},
			[]Segment{vSeg(20, 8, 16000)},
			[]Neighbour{
				vNb("a", map[uint64]Bitfield{20: full(8)}),
				vNb("b", map[uint64]Bitfield{20: pieces(8, 0, 1, 2, 3, 4, 5)}),
				vNb("c", map[uint64]Bitfield{20: pieces(8, 0, 1, 2)}),
			})},
		{"deadline_before_rarity", st(Policy{P2P: true, MaxOutstanding: 2},
			[]Segment{vSeg(22, 4, 18000), vSeg(21, 4, 16000)},
			[]Neighbour{
				vNb("a", map[uint64]Bitfield{21: full(4), 22: full(4)}),
				vNb("b", map[uint64]Bitfield{21: full(4)}),
			})},
		{"best_holder_by_expected_completion", st(p2p,
			[]Segment{vSeg(30, 16, 16000)},
			[]Neighbour{
				{ID: "far", RTT: 150 * time.Millisecond, Throughput: 4 << 20, Have: HavesOf(map[uint64]Bitfield{30: full(16)})},
				{ID: "near", RTT: 10 * time.Millisecond, Throughput: 512 << 10, Have: HavesOf(map[uint64]Bitfield{30: full(16)})},
			})},
		{"many_neighbours_spread", st(p2p,
			[]Segment{vSeg(31, 24, 16000, 5), vSeg(32, 24, 18000)},
			[]Neighbour{
				vNb("n1", map[uint64]Bitfield{31: full(24), 32: full(24)}),
				vNb("n2", map[uint64]Bitfield{31: full(24), 32: pieces(24, span(0, 12)...)}),
				vNb("n3", map[uint64]Bitfield{31: pieces(24, span(12, 12)...)}),
				{ID: "n4", RTT: 5 * time.Millisecond, Throughput: 2 << 20, Have: HavesOf(map[uint64]Bitfield{32: full(24)})},
			})},
		{"choking_only_holder_waits", st(p2p,
			[]Segment{vSeg(40, 4, 16000)},
			[]Neighbour{{ID: "busy", Choking: true, Have: HavesOf(map[uint64]Bitfield{40: full(4)})}})},
		{"choking_holder_keeps_its_requests", st(p2p,
			[]Segment{vSeg(40, 6, 16000)},
			[]Neighbour{
				{ID: "busy", Choking: true, Have: HavesOf(map[uint64]Bitfield{40: full(6)})},
				vNb("free", map[uint64]Bitfield{40: pieces(6, 3, 4, 5)}),
			},
			vPend(40, 0, "busy", 9800))},
		{"no_upload_neighbour_ignored", st(p2p,
			[]Segment{vSeg(44, 4, 12000)},
			[]Neighbour{{ID: "leech", NoUpload: true, Have: HavesOf(map[uint64]Bitfield{44: full(4)})}},
			vPend(44, 0, "leech", 9900))},
		{"edge_named_and_duplicate_neighbours_ignored", st(p2p,
			[]Segment{vSeg(45, 4, 16000)},
			[]Neighbour{
				{ID: Edge, Have: HavesOf(map[uint64]Bitfield{45: full(4)})},
				vNb("n1", map[uint64]Bitfield{45: pieces(4, 0)}),
				vNb("n1", map[uint64]Bitfield{45: full(4)}),
			})},
		{"fallback_not_yet", st(p2p,
			[]Segment{vSeg(50, 20, 12000)}, nil)},
		{"fallback_moment_passed_for_some_blocks", st(p2p,
			[]Segment{vSeg(50, 40, 11750)}, nil)},
		{"fallback_moment_passed_other_self", withSelf(st(p2p,
			[]Segment{vSeg(50, 40, 11750)}, nil), "peer-b")},
		{"fallback_no_upload_waits_for_urgent", st(Policy{P2P: true, NoUpload: true},
			[]Segment{vSeg(50, 20, 11600)}, nil)},
		{"seed_stripe_nobody_announced", st(stripe(1, 4),
			[]Segment{vSeg(60, 20, 18000, 6)}, nil)},
		{"seed_skips_announced_pieces", st(stripe(1, 4),
			[]Segment{vSeg(60, 20, 18000)},
			[]Neighbour{
				vNb("n1", map[uint64]Bitfield{60: pieces(20, 5, 6, 12)}),
				{ID: "choker", Choking: true, Have: HavesOf(map[uint64]Bitfield{60: pieces(20, 8)})},
				{ID: "leech", NoUpload: true, Have: HavesOf(map[uint64]Bitfield{60: pieces(20, 9)})},
			})},
		{"seed_too_close_to_deadline", st(stripe(0, 2),
			[]Segment{vSeg(61, 10, 12000), vSeg(62, 10, 12001)}, nil)},
		{"seed_rotates_with_seq", st(stripe(0, 3),
			[]Segment{vSeg(63, 9, 20000), vSeg(64, 9, 22000), vSeg(65, 9, 24000)}, nil)},
		{"seed_not_when_no_upload", st(Policy{P2P: true, NoUpload: true, Stripe: Stripe{0, 2}},
			[]Segment{vSeg(66, 10, 20000)}, nil)},
		{"seed_invalid_stripe_ignored", st(stripe(3, 3),
			[]Segment{vSeg(66, 10, 20000)}, nil)},
		{"seed_p2p_off_is_p2p_off", st(Policy{Stripe: Stripe{0, 2}},
			[]Segment{vSeg(66, 10, 20000)}, nil)},
		{"seed_with_in_flight_and_urgent", st(stripe(1, 2),
			[]Segment{vSeg(67, 8, 11000), vSeg(68, 8, 14000, 4)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{68: pieces(8, 0, 1)})},
			vPend(68, 5, Edge, 9950), vPend(68, 0, "n1", 9990))},
		{"timeout_reissued_elsewhere", st(p2p,
			[]Segment{vSeg(70, 4, 16000)},
			[]Neighbour{
				vNb("slow", map[uint64]Bitfield{70: full(4)}),
				vNb("other", map[uint64]Bitfield{70: full(4)}),
			},
			vPend(70, 0, "slow", 9000), vPend(70, 1, "slow", 9600))},
		{"timeout_boundary_is_timed_out", st(p2p,
			[]Segment{vSeg(70, 4, 16000)},
			[]Neighbour{vNb("slow", map[uint64]Bitfield{70: full(4)}), vNb("other", map[uint64]Bitfield{70: pieces(4, 1)})},
			vPend(70, 1, "slow", 9500), vPend(70, 2, "slow", 9501))},
		{"timeout_no_other_holder_falls_back", st(p2p,
			[]Segment{vSeg(71, 4, 12000)},
			[]Neighbour{vNb("slow", map[uint64]Bitfield{71: full(4)})},
			vPend(71, 0, "slow", 9000), vPend(71, 1, "slow", 9000))},
		{"timeout_not_yet_wakes", st(p2p,
			[]Segment{vSeg(72, 2, 16000)},
			[]Neighbour{{ID: "n1", RTT: 80 * time.Millisecond, Throughput: 200000, Have: HavesOf(map[uint64]Bitfield{72: full(2)})}},
			vPend(72, 0, "n1", 9700), vPend(72, 1, "n1", 9800))},
		{"cancels_duplicates", st(p2p,
			[]Segment{vSeg(80, 6, 16000)},
			[]Neighbour{vNb("a", map[uint64]Bitfield{80: full(6)}), vNb("b", map[uint64]Bitfield{80: full(6)})},
			vPend(80, 0, "a", 9900), vPend(80, 0, Edge, 9950),
			vPend(80, 1, "b", 9950), vPend(80, 1, "a", 9900),
			vPend(80, 2, Edge, 9800), vPend(80, 2, Edge, 9700))},
		{"cancels_held_gone_and_bogus", st(p2p,
			[]Segment{vSeg(81, 4, 16000, 0)},
			[]Neighbour{vNb("a", map[uint64]Bitfield{81: full(4)})},
			vPend(81, 0, "a", 9900), vPend(81, 0, Edge, 9900), vPend(79, 3, "a", 9900),
			vPend(81, 1, "gone", 9900), vPend(81, -1, "a", 9900), vPend(81, 4, Edge, 9900),
			vPend(81, 2, "a", 9900))},
		{"several_segments_in_any_order", st(Policy{P2P: true, Stripe: Stripe{2, 3}},
			[]Segment{vSeg(92, 12, 20000), vSeg(90, 12, 11000, 1), vSeg(91, 12, 13000), vSeg(90, 5, 30000)},
			[]Neighbour{
				vNb("a", map[uint64]Bitfield{91: pieces(12, span(0, 6)...), 92: full(12)}),
				vNb("b", map[uint64]Bitfield{90: full(12), 91: full(12)}),
			},
			vPend(91, 7, "b", 9950))},
		{"tie_break_peer_a", tie},
		{"tie_break_peer_b", withSelf(tie, "peer-b")},
		{"tie_break_peer_c", withSelf(tie, "0123456789abcdefghijkl")},
		{"seq_near_max_wraps", st(stripe(1, 3),
			[]Segment{vSeg(math.MaxUint64, 30, 20000), vSeg(1<<63+12345, 30, 11800)},
			[]Neighbour{vNb("n1", map[uint64]Bitfield{1<<63 + 12345: pieces(30, 0, 1, 2)})})},
		{"custom_policy", withNow(State{Self: "peer-x",
			Policy: Policy{P2P: true, Urgent: 1001 * time.Millisecond, Handover: 2 * time.Second,
				FallbackWindow: 300 * time.Millisecond, QueueTarget: 100 * time.Millisecond,
				TimeoutFactor: 2.5, DefaultThroughput: 100000, SeedMargin: 200 * time.Millisecond,
				Stripe: Stripe{0, 2}},
			Segments: []Segment{vSeg(100, 8, 11200), vSeg(101, 8, 11300), vSeg(102, 16, 12500)},
			Neighbours: []Neighbour{
				{ID: "n1", Have: HavesOf(map[uint64]Bitfield{100: full(8), 102: pieces(16, span(8, 8)...)})},
			},
			InFlight: []Pending{vPend(100, 0, "n1", 9700), vPend(102, 8, "n1", 9100)},
		}, 10000)},
		{"piece_size_and_short_last_piece", st(p2p,
			[]Segment{
				{Seq: 110, Size: 5*8192 + 100, PieceSize: 8192, Deadline: vAt(11000), Have: pieces(6, 1)},
				{Seq: 111, Size: 0, Deadline: vAt(11000)},
				{Seq: 112, Size: 3*DefaultPieceSize + 1, Deadline: vAt(16000)},
			},
			[]Neighbour{
				{ID: "n1", RTT: 30 * time.Millisecond, Throughput: 40000, Have: HavesOf(map[uint64]Bitfield{112: full(4)})},
				{ID: "n2", RTT: 31 * time.Millisecond, Throughput: 40000, Have: HavesOf(map[uint64]Bitfield{112: full(4)})},
			},
			vPend(111, 0, "n1", 9900))},
	}
}
