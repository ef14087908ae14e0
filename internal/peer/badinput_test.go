package peer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/emulated"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// rogue joins the swarm through the real tracker as a fresh peer (new id,
// its own address), so the victim takes its links and its signalling.
func rogue(t *testing.T, w *world, n int) *signalling.Client {
	t.Helper()
	d := signalling.Dialer{HTTPHeader: http.Header{"X-Forwarded-For": {fmt.Sprintf("10.9.%d.%d", n/250, n%250+1)}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, w.trackerURL(), signalling.Join{Stream: "demo", Rendition: "index", UploadCapacity: 1e6})
	if err != nil {
		t.Fatalf("rogue join: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// victimAlive checks that the victim still plays, without a stall, and its
// proxy still serves the origin's bytes.
func victimAlive(t *testing.T, w *world, v *testPeer, what string) {
	t.Helper()
	select {
	case <-v.done:
		t.Fatalf("%s: the victim's engine stopped", what)
	default:
	}
	st := v.p.Stats()
	if !st.Player.Started || st.Player.Stalls != 0 {
		t.Fatalf("%s: victim started %v, %d stalls", what, st.Player.Started, st.Player.Stalls)
	}
	checkProxy(t, w, v, nil)
}

// TestBadWireInput: neighbours sending garbage, violations and a random
// stream of well-formed but nonsensical frames never crash the victim nor
// stall its playback. Links are emulated (wire input is what is tested here),
// introduced by the real tracker.
func TestBadWireInput(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	net := emulated.New(emulated.Config{Seed: 1})
	cfg := w.peerConfig(0)
	cfg.NewDialer = func(id string, _ transport.SignalFunc) (transport.Dialer, error) {
		return net.AddHost(id, emulated.HostConfig{})
	}
	v := w.startPeer(cfg)
	for v.p.Stats().PeerID == "" || !v.p.Stats().Player.Started {
		time.Sleep(50 * time.Millisecond)
	}
	victim := v.p.Stats().PeerID
	seg := wire.SegmentID{Epoch: "zz", Seq: 1 << 40}
	if pl := segmentURIs(get(t, v.proxy.URL+"/live/demo/index.m3u8")); len(pl) > 0 {
		if e, s, ok := segmentSeq(strings.TrimPrefix(pl[len(pl)-1], "index/")); ok {
			seg = wire.SegmentID{Epoch: e, Seq: s} // a real segment of the window
		}
	}
	hello := func(id string) []byte {
		return wire.Encode(nil, wire.Hello{MaxVersion: 1, Stream: "demo", Rendition: "index", PeerID: id, UploadKbps: 1000})
	}
	enc := func(m wire.Msg) []byte { return wire.Encode(nil, m) }
	cases := []struct {
		name   string
		frames func(id string) [][]byte
	}{
		{"empty and short", func(string) [][]byte { return [][]byte{{}, {1}, {2, 1}} }},
		{"too large", func(string) [][]byte { return [][]byte{make([]byte, wire.MaxFrameSize+1)} }},
		{"unknown types then garbage", func(id string) [][]byte {
			return [][]byte{hello(id), {1, 0x77, 1, 2, 3}, {1, 0xff}, {1, 3, 200, 1}}
		}},
		{"wrong swarm", func(string) [][]byte {
			return [][]byte{enc(wire.Hello{MaxVersion: 1, Stream: "other", Rendition: "index", PeerID: "x", UploadKbps: 1})}
		}},
		{"someone else's id", func(string) [][]byte { return [][]byte{hello(victim)} }},
		{"65 frames before HELLO", func(string) [][]byte {
			var f [][]byte
			for i := range 65 {
				f = append(f, enc(wire.Ping{Token: uint32(i)}))
			}
			return f
		}},
		{"second HELLO", func(id string) [][]byte { return [][]byte{hello(id), hello(id)} }},
		{"bitfield with the wrong piece count", func(id string) [][]byte {
			return [][]byte{hello(id), enc(wire.BitfieldMsg{Segment: seg, Pieces: 16384, Bits: make(wire.Bitfield, 2048)})}
		}},
		{"bad piece", func(id string) [][]byte {
			return [][]byte{hello(id), enc(wire.Piece{Segment: seg, Index: 0, Data: []byte("not the piece")})}
		}},
		{"piece beyond the record", func(id string) [][]byte {
			return [][]byte{hello(id), enc(wire.Piece{Segment: seg, Index: 16383, Data: []byte{1}})}
		}},
		{"requests, cancels, rejects, chokes", func(id string) [][]byte {
			f := [][]byte{hello(id)}
			for i := range 300 {
				f = append(f,
					enc(wire.Request{Segment: seg, First: uint32(i % 40), Count: 256}),
					enc(wire.Request{Segment: wire.SegmentID{Epoch: "a", Seq: uint64(i)}, First: 0, Count: 1}),
					enc(wire.Cancel{Segment: seg, First: 0, Count: 16384}),
					enc(wire.Reject{Segment: seg, First: 0, Count: 16384, Reason: wire.Reason(i)}),
					enc(wire.Choke{Serial: uint32(i + 1)}), enc(wire.Unchoke{Serial: uint32(i + 1)}),
					enc(wire.Have{Segment: wire.SegmentID{Epoch: "b", Seq: uint64(i) << 30}, First: 0, Count: 16384}),
					enc(wire.Ping{Token: uint32(i)}))
			}
			return f
		}},
		{"random well-formed frames", func(id string) [][]byte { return randomFrames(id, seg, 3000) }},
	}
	for i, c := range cases {
		cl := rogue(t, w, i)
		h, err := net.AddHost(cl.ID(), emulated.HostConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l, err := h.Dial(ctx, victim)
		if err != nil {
			t.Fatalf("%s: dial victim: %v", c.name, err)
		}
		go func() { // drain whatever the victim sends
			for {
				if _, err := l.Recv(ctx); err != nil {
					return
				}
			}
		}()
		for _, f := range c.frames(cl.ID()) {
			if l.Send(ctx, f) != nil {
				break // the victim closed the link: fine
			}
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
		h.Close()
		victimAlive(t, w, v, c.name)
	}
	time.Sleep(3 * time.Second)
	victimAlive(t, w, v, "after all cases")
}

// randomFrames is a seeded stream of well-formed frames of every type with
// random fields, after a valid HELLO.
func randomFrames(id string, seg wire.SegmentID, n int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 11))
	segs := []wire.SegmentID{seg, {Epoch: seg.Epoch, Seq: seg.Seq + 1}, {Epoch: "q", Seq: rng.Uint64()}, {Epoch: seg.Epoch, Seq: seg.Seq - 1}}
	out := [][]byte{wire.Encode(nil, wire.Hello{MaxVersion: 1, Stream: "demo", Rendition: "index", PeerID: id, UploadKbps: 5})}
	for range n {
		s := segs[rng.IntN(len(segs))]
		first := uint32(rng.IntN(64))
		count := uint32(1 + rng.IntN(200))
		var m wire.Msg
		switch rng.IntN(9) {
		case 0:
			pieces := uint32(rng.IntN(64))
			bf := wire.NewBitfield(int(pieces))
			for i := range int(pieces) {
				if rng.IntN(2) == 0 {
					bf.Set(i)
				}
			}
			m = wire.BitfieldMsg{Segment: s, Pieces: pieces, Bits: bf}
		case 1:
			m = wire.Have{Segment: s, First: first, Count: count}
		case 2:
			m = wire.Request{Segment: s, First: first, Count: count}
		case 3:
			m = wire.Cancel{Segment: s, First: first, Count: count}
		case 4:
			m = wire.Reject{Segment: s, First: first, Count: count, Reason: wire.Reason(rng.IntN(8))}
		case 5:
			m = wire.Choke{Serial: uint32(1 + rng.IntN(100))}
		case 6:
			m = wire.Unchoke{Serial: uint32(1 + rng.IntN(100))}
		case 7:
			m = wire.Pong{Token: rng.Uint32()}
		default:
			m = wire.Ping{Token: rng.Uint32()}
		}
		out = append(out, wire.Encode(nil, m))
	}
	return out
}

// TestBadSignalling: a neighbour relays garbage WebRTC signalling through the
// real tracker (bad SDP, answers without offers, candidates for no session,
// malformed candidates, offers followed by junk); the victim, on real pion,
// keeps playing and still links up with an honest peer afterwards.
func TestBadSignalling(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	v := w.startPeer(w.peerConfig(0))
	for v.p.Stats().PeerID == "" || !v.p.Stats().Player.Started {
		time.Sleep(50 * time.Millisecond)
	}
	victim := v.p.Stats().PeerID
	s := func(v string) *string { return &v }
	u := func(v uint16) *uint16 { return &v }
	datas := []signalling.SignalData{
		{Type: "offer", SDP: "garbage"},
		{Type: "offer", SDP: "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"},
		{Type: "answer", SDP: "v=0\r\n"},
		{Type: "candidate", Candidate: &signalling.ICECandidate{Candidate: "candidate:1 1 udp 1 999.1.1.1 1 typ host"}},
		{Type: "candidate", Candidate: &signalling.ICECandidate{Candidate: "", SDPMid: s("7"), SDPMLineIndex: u(9)}},
		{Type: "candidate", Candidate: &signalling.ICECandidate{Candidate: strings.Repeat("x", 4000), UsernameFragment: s("\x00")}},
		{Type: "offer", SDP: strings.Repeat("a=x\r\n", 5000)},
	}
	for i := range 3 {
		cl := rogue(t, w, 100+i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for range 10 {
			for _, d := range datas {
				if err := cl.Signal(ctx, victim, d); err != nil {
					t.Logf("rogue %d: %v", i, err)
				}
			}
		}
		cancel()
		time.Sleep(200 * time.Millisecond)
		cl.Close()
		victimAlive(t, w, v, fmt.Sprintf("rogue %d", i))
	}
	// An honest peer still links up with the victim.
	h := w.startPeer(w.peerConfig(1))
	deadline := time.Now().Add(15 * time.Second)
	for v.p.Stats().Neighbours == 0 || h.p.Stats().Neighbours == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the victim no longer links up with honest peers")
		}
		time.Sleep(100 * time.Millisecond)
	}
	victimAlive(t, w, v, "after the honest peer joined")
}
