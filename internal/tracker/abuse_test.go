package tracker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// raw is a bare WebSocket client that can send anything.
type raw struct {
	t  *testing.T
	ws *websocket.Conn
}

func (h *harness) raw() *raw {
	ws, _, err := websocket.Dial(ctxT(h.t), h.url, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	h.t.Cleanup(func() { ws.CloseNow() })
	return &raw{t: h.t, ws: ws}
}

func (r *raw) write(typ websocket.MessageType, b string) error {
	return r.ws.Write(ctxT(r.t), typ, []byte(b))
}

func (r *raw) next() (Message, error) {
	_, b, err := r.ws.Read(ctxT(r.t))
	if err != nil {
		return nil, err
	}
	return DecodeServer(b)
}

func (r *raw) expectError(code string) {
	r.t.Helper()
	m, err := r.next()
	if err != nil {
		r.t.Fatalf("want error %s, got %v", code, err)
	}
	if e, ok := m.(*Error); !ok || e.Code != code || e.Message == "" {
		r.t.Fatalf("want error %s, got %#v", code, m)
	}
}

func TestBadMessagesGetErrors(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.raw()
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  string
		code string
	}{
		{"not json", websocket.MessageText, "hello", CodeBadMessage},
		{"truncated", websocket.MessageText, `{"type":"join","stream":"de`, CodeBadMessage},
		{"no type", websocket.MessageText, `{"stream":"demo"}`, CodeBadMessage},
		{"unknown type", websocket.MessageText, `{"type":"welcome","peer_id":"x"}`, CodeBadMessage},
		{"wrong field type", websocket.MessageText, `{"type":"join","stream":5}`, CodeBadMessage},
		{"bad stream name", websocket.MessageText, `{"type":"join","stream":"../etc","rendition":"index"}`, CodeBadMessage},
		{"negative capacity", websocket.MessageText, `{"type":"join","stream":"demo","rendition":"index","upload_capacity":-1}`, CodeBadMessage},
		{"binary frame", websocket.MessageBinary, `{"type":"leave"}`, CodeBadMessage},
		{"signal before join", websocket.MessageText, `{"type":"signal","to":"abc","data":{"type":"offer","sdp":"x"}}`, CodeNotJoined},
		{"stats before join", websocket.MessageText, `{"type":"stats","bytes_cdn":1}`, CodeNotJoined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.write(tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			r.expectError(tc.code)
		})
	}
	// The same connection can still join and then gets protocol errors, not a crash.
	if err := r.write(websocket.MessageText, `{"type":"join","stream":"demo","rendition":"index"}`); err != nil {
		t.Fatal(err)
	}
	if m, err := r.next(); err != nil || m.Type() != TypeWelcome {
		t.Fatalf("join after errors: %v %v", m, err)
	}
	for _, msg := range []string{
		`{"type":"join","stream":"demo","rendition":"index"}`,
		`{"type":"signal","to":"abc","data":{"type":"pranswer","sdp":"x"}}`,
		`{"type":"signal","to":"abc","data":{"type":"candidate"}}`,
		`{"type":"stats","bytes_cdn":-5}`,
		`{"type":"report","peer":"abc","segment":"","piece":1}`,
	} {
		if err := r.write(websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		want := CodeBadMessage
		if strings.Contains(msg, `"join"`) {
			want = CodeJoined
		}
		r.expectError(want)
	}
	if got := testutil.ToFloat64(h.tr.m.errors.WithLabelValues(CodeBadMessage)); got < 10 {
		t.Fatalf("errors_total{bad_message} %v", got)
	}
}

func TestOversizedMessageClosesOnlyThatPeer(t *testing.T) {
	h := newHarness(t, Config{MaxMessageBytes: 1024})
	a := h.dial(join(demo), "10.0.0.1")
	b := h.dial(join(demo), "10.0.1.1")
	recvAs[*Neighbours](t, a)
	r := h.raw()
	big := `{"type":"stats","bytes_cdn":1,"pad":"` + strings.Repeat("x", 2000) + `"}`
	if err := r.write(websocket.MessageText, big); err != nil {
		t.Fatal(err)
	}
	r.expectError(CodeTooLarge)
	_, err := r.next()
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("close after oversized message: %v", err)
	}
	// A huge relayed signal is refused the same way, and the others keep working.
	huge := SignalData{Type: SignalOffer, SDP: strings.Repeat("v", 4096)}
	if err := b.Signal(ctxT(t), a.ID(), huge); err != nil {
		t.Fatal(err)
	}
	if e := recvAs[*Error](t, b); e.Code != CodeTooLarge {
		t.Fatalf("b got %+v", e)
	}
	var ce websocket.CloseError
	if err := closed(t, b); !errors.As(err, &ce) || ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("b closed with %v", err)
	}
	if n := recvAs[*Neighbours](t, a); len(n.Remove) != 1 || n.Remove[0] != b.ID() {
		t.Fatalf("a got %+v", n)
	}
	c := h.dial(join(demo), "10.0.2.1")
	if err := c.Signal(ctxT(t), a.ID(), SignalData{Type: SignalOffer, SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	if s := recvAs[*Signal](t, a); s.From != c.ID() {
		t.Fatalf("a got %+v", s)
	}
}

func TestRateLimitClosesFloodingPeer(t *testing.T) {
	h := newHarness(t, Config{RateLimit: 5, RateBurst: 10})
	a := h.dial(join(demo), "10.0.0.1")
	flood := h.dial(join(demo), "10.0.1.1")
	ctx := context.Background()
	for i := range 50 {
		if err := flood.Send(ctx, &Stats{BytesCDN: uint64(i)}); err != nil {
			break // closed under us: fine
		}
	}
	if e := recvAs[*Error](t, flood); e.Code != CodeRateLimited {
		t.Fatalf("flooder got %+v", e)
	}
	closed(t, flood)
	// a is untouched and still served.
	if err := a.Send(ctx, &Stats{BytesCDN: 7}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's stats", func() bool {
		s := h.streams("")
		return len(s) == 1 && s[0].Peers == 1 && s[0].BytesCDN >= 7
	})
	if got := testutil.ToFloat64(h.tr.m.errors.WithLabelValues(CodeRateLimited)); got != 1 {
		t.Fatalf("errors_total{rate_limited} %v", got)
	}
}

func TestSlowConsumerDropped(t *testing.T) {
	h := newHarness(t, Config{SendQueue: 4, SendQueueBytes: 1 << 20, RateLimit: 1e6, RateBurst: 1e6})
	a := h.dial(join(demo), "10.0.0.1")
	// A raw peer that joins and never reads: its queue fills with relayed signals
	// (the kernel buffers absorb some first) until the tracker drops it.
	r := h.raw()
	if err := r.write(websocket.MessageText, `{"type":"join","stream":"demo","rendition":"index"}`); err != nil {
		t.Fatal(err)
	}
	w, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	slow := w.(*Welcome).PeerID
	recvAs[*Neighbours](t, a)
	sdp := SignalData{Type: SignalOffer, SDP: strings.Repeat("s", 30000)}
	dropped := false
	for i := 0; i < 2000 && !dropped; i++ {
		if err := a.Signal(ctxT(t), slow, sdp); err != nil {
			t.Fatal(err)
		}
		dropped = testutil.ToFloat64(h.tr.m.dropped) > 0
	}
	if !dropped {
		t.Fatal("slow consumer never dropped")
	}
	for {
		if n := recvAs[*Neighbours](t, a); len(n.Remove) == 1 && n.Remove[0] == slow {
			break
		}
	}
}
