package tracker

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

var demo = SwarmKey{Stream: "demo", Rendition: "index"}

func join(s SwarmKey) Join {
	return Join{Stream: s.Stream, Rendition: s.Rendition, UploadCapacity: 1e6}
}

func TestJoinWelcomeNeighbours(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.dial(join(demo), "10.0.0.1")
	wa := a.Welcome()
	if !ValidPeerID(wa.PeerID) || len(wa.PeerID) != 22 {
		t.Fatalf("peer id %q", wa.PeerID)
	}
	if len(wa.Neighbours) != 0 {
		t.Fatalf("first peer got neighbours %v", wa.Neighbours)
	}
	if want := (Policy{P2PEnabled: true, Neighbours: swarm.DefaultMaxNeighbours}); wa.Policy != want {
		t.Fatalf("policy %+v, want %+v", wa.Policy, want)
	}
	b := h.dial(join(demo), "10.0.1.1")
	wb := b.Welcome()
	if wb.PeerID == wa.PeerID {
		t.Fatal("duplicate peer id")
	}
	if len(wb.Neighbours) != 1 || wb.Neighbours[0] != (Neighbour{PeerID: wa.PeerID, Initiator: true}) {
		t.Fatalf("b's neighbours %+v, want a with initiator", wb.Neighbours)
	}
	n := recvAs[*Neighbours](t, a)
	if len(n.Add) != 1 || n.Add[0] != (Neighbour{PeerID: wb.PeerID, Initiator: false}) || len(n.Remove) != 0 {
		t.Fatalf("a got %+v, want add b without initiator", n)
	}
	// Another rendition is another swarm.
	c := h.dial(join(SwarmKey{Stream: "demo", Rendition: "hi"}), "10.0.2.1")
	if len(c.Welcome().Neighbours) != 0 {
		t.Fatalf("other rendition got neighbours %v", c.Welcome().Neighbours)
	}
	if got := testutil.ToFloat64(h.tr.m.joins); got != 3 {
		t.Fatalf("joins_total %v", got)
	}
	if got := testutil.ToFloat64(h.tr.m.peers.WithLabelValues("demo")); got != 3 {
		t.Fatalf("peers{demo} %v", got)
	}
	if got := testutil.ToFloat64(h.tr.m.swarms); got != 2 {
		t.Fatalf("swarms %v", got)
	}
}

func TestRelayOnlyBetweenNeighbours(t *testing.T) {
	h := newHarness(t, Config{MaxNeighbours: 2}) // limit 2, each joiner links to one open peer
	a := h.dial(join(demo), "10.0.0.1")
	b := h.dial(join(demo), "10.0.1.1")
	recvAs[*Neighbours](t, a)
	mid, idx := "0", uint16(0)
	msgs := []struct {
		from, to *Client
		data     SignalData
	}{
		{b, a, SignalData{Type: SignalOffer, SDP: "v=0 offer"}},
		{a, b, SignalData{Type: SignalAnswer, SDP: "v=0 answer"}},
		{b, a, SignalData{Type: SignalCandidate, Candidate: &ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}}},
		{a, b, SignalData{Type: SignalCandidate, Candidate: &ICECandidate{Candidate: ""}}},
	}
	for _, m := range msgs {
		if err := m.from.Signal(ctxT(t), m.to.ID(), m.data); err != nil {
			t.Fatal(err)
		}
		got := recvAs[*Signal](t, m.to)
		if got.From != m.from.ID() || got.To != "" || got.Data.Type != m.data.Type || got.Data.SDP != m.data.SDP {
			t.Fatalf("relayed %+v, want %+v from %s", got, m.data, m.from.ID())
		}
		if m.data.Candidate != nil && got.Data.Candidate.Candidate != m.data.Candidate.Candidate {
			t.Fatalf("candidate %+v", got.Data.Candidate)
		}
	}
	// c links to exactly one of a, b; the other is not its neighbour.
	c := h.dial(join(demo), "10.0.2.1")
	if len(c.Welcome().Neighbours) != 1 {
		t.Fatalf("c neighbours %v", c.Welcome().Neighbours)
	}
	stranger := a
	if c.Welcome().Neighbours[0].PeerID == a.ID() {
		stranger = b
	}
	other := h.dial(join(SwarmKey{Stream: "demo", Rendition: "hi"}), "10.0.3.1")
	for _, tc := range []struct {
		name string
		from *Client
		to   string
	}{
		{"not introduced", c, stranger.ID()},
		{"unknown id", c, "AAAAAAAAAAAAAAAAAAAAAA"},
		{"other swarm", other, a.ID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.from.Signal(ctxT(t), tc.to, SignalData{Type: SignalOffer, SDP: "x"}); err != nil {
				t.Fatal(err)
			}
			e := recvAs[*Error](t, tc.from)
			if e.Code != CodeNotNeighbour {
				t.Fatalf("error %+v", e)
			}
		})
	}
	expectNothing(t, stranger, 200*time.Millisecond, func(m Message) bool { _, ok := m.(*Signal); return ok })
	if got := testutil.ToFloat64(h.tr.m.relayed); got != 4 {
		t.Fatalf("signals_relayed_total %v", got)
	}
	if got := testutil.ToFloat64(h.tr.m.errors.WithLabelValues(CodeNotNeighbour)); got != 3 {
		t.Fatalf("errors_total{not_neighbour} %v", got)
	}
}

func TestTokenRequired(t *testing.T) {
	secret := []byte("play-secret")
	h := newHarness(t, Config{PlaySecret: secret})
	good := tokenFor(secret, "demo", time.Hour)
	cases := []struct {
		name  string
		tok   string
		query string
		ok    bool
	}{
		{"missing", "", "", false},
		{"other stream", tokenFor(secret, "other", time.Hour), "", false},
		{"expired", tokenFor(secret, "demo", -time.Minute), "", false},
		{"wrong secret", tokenFor([]byte("nope"), "demo", time.Hour), "", false},
		{"in join", good, "", true},
		{"on upgrade", "", "?token=" + good, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := join(demo)
			j.Token = tc.tok
			var d Dialer
			c, err := d.Dial(ctxT(t), h.url+tc.query, j)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			var e *Error
			if !errors.Is(err, ErrRejected) || !errors.As(err, &e) || e.Code != CodeUnauthorized {
				t.Fatalf("err %v, want unauthorized rejection", err)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"negative neighbours", Config{MaxNeighbours: -1}, false},
		{"tiny messages", Config{MaxMessageBytes: 10}, false},
		{"tiny timeout", Config{PeerTimeout: time.Millisecond}, false},
		{"negative ban", Config{BanDuration: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Fatal("second tracker on one registry: want a registration error, not a panic")
	}
}
