package webrtc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// relay is the test's signalling server: it delivers each peer's signals to
// the other in order, like the tracker's WebSocket.
type relay struct {
	mu    sync.Mutex
	peers map[string]*Transport
	queue map[string]chan func()
	errs  chan error
}

func newRelay(t testing.TB) *relay {
	r := &relay{peers: map[string]*Transport{}, queue: map[string]chan func(){}, errs: make(chan error, 100)}
	return r
}

// add starts a Transport with id on loopback.
func (r *relay) add(t testing.TB, id string) *Transport {
	t.Helper()
	q := make(chan func(), 256)
	r.mu.Lock()
	r.queue[id] = q
	r.mu.Unlock()
	go func() {
		for f := range q {
			f()
		}
	}()
	tr, err := New(Config{ID: id, ICEInterface: "lo", Signal: func(to string, s transport.Signal) {
		r.mu.Lock()
		dst, dq := r.peers[to], r.queue[to]
		r.mu.Unlock()
		if dst == nil {
			return
		}
		// Through JSON, as the tracker relays it.
		b, err := json.Marshal(s)
		if err != nil {
			panic(err)
		}
		var relayed transport.Signal
		if err := json.Unmarshal(b, &relayed); err != nil {
			panic(err)
		}
		dq <- func() {
			if err := dst.HandleSignal(id, relayed); err != nil {
				select {
				case r.errs <- err:
				default:
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.peers[id] = tr
	r.mu.Unlock()
	t.Cleanup(func() {
		tr.Close()
		close(q)
	})
	return tr
}

func connect(t testing.TB, r *relay) (a, b transport.Link) {
	t.Helper()
	ta, tb := r.add(t, "a"), r.add(t, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	la, err := ta.Dial(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := tb.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return la, lb
}

func TestLinkOverLoopback(t *testing.T) {
	la, lb := connect(t, newRelay(t))
	if la.RemoteID() != "b" || lb.RemoteID() != "a" {
		t.Fatalf("remote ids %q %q", la.RemoteID(), lb.RemoteID())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// Both ways, small and full-size messages (16 KiB piece + header).
	for _, size := range []int{1, 100, 16384, 16384 + 64} {
		for _, dir := range [][2]transport.Link{{la, lb}, {lb, la}} {
			msg := bytes.Repeat([]byte{byte(size)}, size)
			if err := dir[0].Send(ctx, msg); err != nil {
				t.Fatal(err)
			}
			got, err := dir[1].Recv(ctx)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("size %d: got %d bytes, %v", size, len(got), err)
			}
		}
	}
	if err := la.Send(ctx, make([]byte, la.MaxMessageSize()+1)); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}

	// A burst (more than the buffer bound): every message arrives exactly
	// once, in whatever order.
	const n = 200
	go func() {
		for i := range n {
			m := make([]byte, 16384)
			binary.BigEndian.PutUint32(m, uint32(i))
			if err := la.Send(ctx, m); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := make(map[uint32]bool)
	for range n {
		m, err := lb.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := binary.BigEndian.Uint32(m)
		if seen[i] || len(m) != 16384 {
			t.Fatalf("message %d: duplicate or %d bytes", i, len(m))
		}
		seen[i] = true
	}

	// Close on one side ends the other.
	la.Close()
	if _, err := lb.Recv(ctx); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("recv after remote close: %v", err)
	}
	if err := la.Send(ctx, []byte("x")); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestGlare(t *testing.T) {
	r := newRelay(t)
	ta, tb := r.add(t, "a"), r.add(t, "b")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var la, lb transport.Link
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); la, ea = ta.Dial(ctx, "b") }()
	go func() { defer wg.Done(); lb, eb = tb.Dial(ctx, "a") }()
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatalf("dial: %v / %v", ea, eb)
	}
	if err := la.Send(ctx, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if m, err := lb.Recv(ctx); err != nil || string(m) != "ping" {
		t.Fatalf("got %q %v", m, err)
	}
}

func TestBadSignals(t *testing.T) {
	r := newRelay(t)
	ta := r.add(t, "a")
	mid := "0"
	for _, s := range []transport.Signal{
		{Type: "bogus"},
		{Type: transport.SignalOffer, SDP: "not sdp"},
		{Type: transport.SignalAnswer, SDP: "v=0"},
		{Type: transport.SignalCandidate, Candidate: &transport.Candidate{Candidate: "candidate:garbage", SDPMid: &mid}},
		{Type: transport.SignalCandidate},
	} {
		if err := ta.HandleSignal("x", s); !errors.Is(err, transport.ErrSignal) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if err := ta.HandleSignal("a", transport.Signal{Type: transport.SignalOffer}); !errors.Is(err, transport.ErrSignal) {
		t.Errorf("signal from self: %v", err)
	}
	if _, err := ta.Dial(t.Context(), "a"); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Errorf("dial self: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Signal")
	}
}

func TestDialTimeout(t *testing.T) {
	r := newRelay(t)
	ta := r.add(t, "a")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := ta.Dial(ctx, "nobody"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to a silent peer: %v", err)
	}
}

// BenchmarkThroughput sends 16 KiB messages one way over loopback.
func BenchmarkThroughput(b *testing.B) {
	la, lb := connect(b, newRelay(b))
	ctx := context.Background()
	msg := make([]byte, 16384)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for range b.N {
			if _, err := lb.Recv(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		if err := la.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
