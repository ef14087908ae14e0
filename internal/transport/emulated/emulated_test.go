package emulated

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// pair returns a link between two new hosts a and b.
func pair(t *testing.T, n *Network, a, b HostConfig) (ha, hb *Host, la, lb transport.Link) {
	t.Helper()
	ha, err := n.AddHost("a", a)
	if err != nil {
		t.Fatal(err)
	}
	hb, err = n.AddHost("b", b)
	if err != nil {
		t.Fatal(err)
	}
	la, err = ha.Dial(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	lb, err = hb.Accept(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ha, hb, la, lb
}

const piece = 16384

func TestShaping(t *testing.T) {
	mbit := 1e6
	pieceAt8 := 16384 * time.Microsecond // 16384 bytes at 8 Mbit/s
	tests := []struct {
		name string
		a, b HostConfig
		msgs int
		want []time.Duration // arrival of each message after the first Send
	}{
		{"latency only", HostConfig{Latency: 10 * time.Millisecond}, HostConfig{Latency: 5 * time.Millisecond}, 1,
			[]time.Duration{15 * time.Millisecond}},
		{"upload: size/bandwidth + latency", HostConfig{Up: 8 * mbit, Latency: 10 * time.Millisecond}, HostConfig{Latency: 5 * time.Millisecond}, 2,
			[]time.Duration{pieceAt8 + 15*time.Millisecond, 2*pieceAt8 + 15*time.Millisecond}},
		{"download: size/bandwidth + latency", HostConfig{Latency: 10 * time.Millisecond}, HostConfig{Down: 8 * mbit, Latency: 5 * time.Millisecond}, 2,
			[]time.Duration{pieceAt8 + 15*time.Millisecond, 2*pieceAt8 + 15*time.Millisecond}},
		{"slower side is the bottleneck", HostConfig{Up: 16 * mbit}, HostConfig{Down: 8 * mbit}, 2,
			[]time.Duration{pieceAt8, 2 * pieceAt8}},
		{"equal rates cut through", HostConfig{Up: 8 * mbit, Latency: time.Millisecond}, HostConfig{Down: 8 * mbit}, 1,
			[]time.Duration{pieceAt8 + time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := New(Config{})
				_, _, la, lb := pair(t, n, tt.a, tt.b)
				start := time.Now()
				for i := range tt.msgs {
					if err := la.Send(t.Context(), bytes.Repeat([]byte{byte(i)}, piece)); err != nil {
						t.Fatal(err)
					}
				}
				for i, want := range tt.want {
					m, err := lb.Recv(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					if got := time.Since(start); got != want || m[0] != byte(i) || len(m) != piece {
						t.Errorf("message %d (%d bytes, first %d) arrived after %v, want %v", i, len(m), m[0], got, want)
					}
				}
			})
		})
	}
}

func TestBothWaysAndCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		_, _, la, lb := pair(t, n, HostConfig{Latency: time.Millisecond}, HostConfig{})
		if la.RemoteID() != "b" || lb.RemoteID() != "a" {
			t.Fatalf("remote ids %q %q", la.RemoteID(), lb.RemoteID())
		}
		msg := []byte("hello")
		if err := la.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		msg[0] = 'j' // the link must have copied it
		got, err := lb.Recv(t.Context())
		if err != nil || string(got) != "hello" {
			t.Fatalf("got %q, %v", got, err)
		}
		if err := lb.Send(t.Context(), []byte("world")); err != nil {
			t.Fatal(err)
		}
		if got, err := la.Recv(t.Context()); err != nil || string(got) != "world" {
			t.Fatalf("got %q, %v", got, err)
		}
		big := make([]byte, la.MaxMessageSize()+1)
		if err := la.Send(t.Context(), big); !errors.Is(err, transport.ErrTooLarge) {
			t.Fatalf("oversized send: %v", err)
		}
	})
}

func TestLossIsDelayNotGaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{Seed: 7})
		_, _, la, lb := pair(t, n, HostConfig{Up: 80e6, Latency: 5 * time.Millisecond, Loss: 0.2}, HostConfig{})
		const count = 200
		go func() {
			for i := range count {
				b := make([]byte, 1000)
				binary.BigEndian.PutUint32(b, uint32(i))
				if err := la.Send(t.Context(), b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		seen := make(map[uint32]bool)
		inversions := 0
		last := -1
		for range count {
			m, err := lb.Recv(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			i := binary.BigEndian.Uint32(m)
			if seen[i] {
				t.Fatalf("message %d twice", i)
			}
			seen[i] = true
			if int(i) < last {
				inversions++
			}
			last = int(i)
		}
		st := n.Stats()
		if st.Resent == 0 || inversions == 0 {
			t.Fatalf("20%% loss: resent %d bytes, %d inversions", st.Resent, inversions)
		}
		if st.Sent != count*1000 || st.Received != st.Sent {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestBoundedQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		cfg := HostConfig{SendBuffer: 4 * piece, RecvBuffer: 2 * piece}
		_, _, la, lb := pair(t, n, cfg, cfg)
		msg := make([]byte, piece)
		// The receiver does not read: two pieces fill its queue, four more
		// fill the sender's window, and the next Send blocks.
		for range 6 {
			if err := la.Send(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := la.Send(ctx, msg); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send into a full window: %v", err)
		}
		l := lb.(*Link)
		n.mu.Lock()
		queued, held := l.recvBytes, len(l.held)
		n.mu.Unlock()
		if queued != 2*piece || held != 4 {
			t.Fatalf("receiver holds %d bytes queued and %d messages held", queued, held)
		}
		// Reading one frees room for one more send.
		if _, err := lb.Recv(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := la.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		for range 6 {
			if _, err := lb.Recv(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if st := n.Stats(); st.Sent != 7*piece || st.Received != 7*piece {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestBufferedAmount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		_, _, la, lb := pair(t, n, HostConfig{Up: 8e6}, HostConfig{})
		for range 3 {
			la.Send(t.Context(), make([]byte, piece))
		}
		if b := la.BufferedAmount(); b != 3*piece {
			t.Fatalf("buffered %d, want %d", b, 3*piece)
		}
		time.Sleep(16384*time.Microsecond + time.Microsecond)
		if b := la.BufferedAmount(); b != 2*piece {
			t.Fatalf("buffered after one piece time %d, want %d", b, 2*piece)
		}
		for range 3 {
			lb.Recv(t.Context())
		}
		if b := la.BufferedAmount(); b != 0 {
			t.Fatalf("buffered %d at the end", b)
		}
	})
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		ha, _, la, lb := pair(t, n, HostConfig{Latency: 10 * time.Millisecond}, HostConfig{})
		la.Send(t.Context(), []byte("lost in flight"))
		la.Send(t.Context(), []byte("also"))
		errc := make(chan error, 1)
		go func() {
			_, err := lb.Recv(t.Context())
			errc <- err
		}()
		synctest.Wait()
		if err := lb.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("blocked Recv after close: %v", err)
		}
		if err := la.Send(t.Context(), []byte("x")); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("send after close: %v", err)
		}
		time.Sleep(time.Second)
		if st := n.Stats(); st.Sent != st.Received+st.Dropped || st.Dropped != 18 {
			t.Fatalf("stats %+v", st)
		}
		// A closed host refuses dials and its Accept returns.
		ha.Close()
		if _, err := ha.Dial(t.Context(), "b"); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("dial from closed host: %v", err)
		}
		if _, err := ha.Accept(t.Context()); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("accept on closed host: %v", err)
		}
	})
}

func TestDialErrors(t *testing.T) {
	n := New(Config{})
	h, _ := n.AddHost("a", HostConfig{})
	if _, err := n.AddHost("a", HostConfig{}); !errors.Is(err, ErrDuplicateHost) {
		t.Fatalf("duplicate host: %v", err)
	}
	if _, err := h.Dial(t.Context(), "nobody"); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
	if _, err := h.Dial(t.Context(), "a"); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Fatalf("self dial: %v", err)
	}
	n.AddHost("b", HostConfig{Backlog: 1})
	if _, err := h.Dial(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Dial(t.Context(), "b"); !errors.Is(err, transport.ErrBusy) {
		t.Fatalf("full backlog: %v", err)
	}
}

func TestSharedUplink(t *testing.T) {
	// Two links from one host share its upload: two pieces to two peers take
	// two piece times.
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		a, _ := n.AddHost("a", HostConfig{Up: 8e6})
		for _, id := range []string{"b", "c"} {
			n.AddHost(id, HostConfig{})
		}
		lb, _ := a.Dial(t.Context(), "b")
		lc, _ := a.Dial(t.Context(), "c")
		hb, hc := n.hosts["b"], n.hosts["c"]
		rb, _ := hb.Accept(t.Context())
		rc, _ := hc.Accept(t.Context())
		start := time.Now()
		lb.Send(t.Context(), make([]byte, piece))
		lc.Send(t.Context(), make([]byte, piece))
		rb.Recv(t.Context())
		rc.Recv(t.Context())
		if got, want := time.Since(start), 2*16384*time.Microsecond; got != want {
			t.Fatalf("both arrived after %v, want %v", got, want)
		}
	})
}

func TestScaledClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := transport.ScaledClock(10)
		n := New(Config{Clock: c})
		_, _, la, lb := pair(t, n, HostConfig{Latency: 500 * time.Millisecond}, HostConfig{})
		start, emu := time.Now(), c.Now()
		la.Send(t.Context(), []byte("x"))
		lb.Recv(t.Context())
		if real, virt := time.Since(start), c.Now().Sub(emu); real != 50*time.Millisecond || virt != 500*time.Millisecond {
			t.Fatalf("real %v, emulated %v", real, virt)
		}
	})
}
