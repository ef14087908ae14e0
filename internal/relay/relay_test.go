package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/webrtc"
)

// pair returns two WebRTC transports on loopback whose ICE uses only the given
// TURN server's relay candidates, signalling each other through JSON as the
// tracker does.
func pair(t *testing.T, turn webrtc.TURNServer) (a, b *webrtc.Transport) {
	t.Helper()
	peers := map[string]*webrtc.Transport{}
	queues := map[string]chan func(){"a": make(chan func(), 256), "b": make(chan func(), 256)}
	for _, q := range queues {
		go func() {
			for f := range q {
				f()
			}
		}()
	}
	mk := func(id string) *webrtc.Transport {
		tr, err := webrtc.New(webrtc.Config{ID: id, ICEInterface: "lo", TURN: []webrtc.TURNServer{turn}, RelayOnly: true,
			Signal: func(to string, s transport.Signal) {
				b, _ := json.Marshal(s)
				var relayed transport.Signal
				json.Unmarshal(b, &relayed)
				queues[to] <- func() { peers[to].HandleSignal(id, relayed) }
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a, b = mk("a"), mk("b")
	peers["a"], peers["b"] = a, b
	t.Cleanup(func() {
		for _, q := range queues {
			close(q)
		}
	})
	return a, b
}

// TestRelayOnlyMovesBytes: two peers whose ICE may use relay candidates only
// link up through `shoal turn`'s relay and move 1 MiB byte for byte; every byte
// went through the relay's listener (so neither learnt the other's address).
func TestRelayOnlyMovesBytes(t *testing.T) {
	secret := "relay-test-secret"
	r, err := New(Config{Listen: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	user, pass := Credentials(secret, "viewer", time.Hour, time.Now())
	a, b := pair(t, webrtc.TURNServer{URL: r.URL(), Username: user, Credential: pass})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type res struct {
		l   transport.Link
		err error
	}
	acc := make(chan res, 1)
	go func() { l, err := b.Accept(ctx); acc <- res{l, err} }()
	la, err := a.Dial(ctx, "b")
	if err != nil {
		t.Fatalf("relay-only dial: %v", err)
	}
	rb := <-acc
	if rb.err != nil {
		t.Fatalf("accept: %v", rb.err)
	}
	before := r.BytesIn()
	var sent []byte
	for i := range 64 {
		sent = append(sent, bytes.Repeat([]byte{byte(i)}, 16<<10)...)
	}
	go func() {
		for i := range 64 {
			if err := la.Send(ctx, sent[i*16<<10:(i+1)*16<<10]); err != nil {
				return
			}
		}
	}()
	var got []byte
	for len(got) < 64*16<<10 {
		m, err := rb.l.Recv(ctx)
		if err != nil {
			t.Fatalf("recv after %d bytes: %v", len(got), err)
		}
		got = append(got, m...)
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("bytes differ")
	}
	if through := r.BytesIn() - before; through < int64(len(got)) {
		t.Fatalf("the relay saw %d bytes of %d: the peers linked around it", through, len(got))
	}
	if r.Allocations() < 2 {
		t.Fatalf("%d allocations, want one per peer", r.Allocations())
	}
	t.Logf("1 MiB relayed; the relay's listener read %d bytes; %d allocations", r.BytesIn()-before, r.Allocations())
}

// TestRelayRefuses: wrong or expired credentials give no allocation, and with
// relay-only ICE there is then no way to link (no host fallback).
func TestRelayRefuses(t *testing.T) {
	secret := "relay-test-secret"
	r, err := New(Config{Listen: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	user, _ := Credentials(secret, "viewer", time.Hour, time.Now())
	expired, expiredPass := Credentials(secret, "viewer", -time.Minute, time.Now())
	for _, cred := range []webrtc.TURNServer{
		{URL: r.URL(), Username: user, Credential: "wrong"},
		{URL: r.URL(), Username: expired, Credential: expiredPass},
	} {
		a, _ := pair(t, cred)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := a.Dial(ctx, "b")
		cancel()
		if err == nil {
			t.Fatalf("%s: linked without a valid allocation", cred.Username)
		}
	}
	if n := r.Allocations(); n != 0 {
		t.Fatalf("%d allocations for bad credentials", n)
	}
	for _, cfg := range []Config{{}, {Secret: "s", Listen: "0.0.0.0:0"}, {Secret: "s", Listen: "nonsense"}} {
		if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("New(%+v) = %v, want ErrBadConfig", cfg, err)
		}
	}
	if _, err := webrtc.New(webrtc.Config{Signal: func(string, transport.Signal) {}, RelayOnly: true}); err == nil {
		t.Error("relay-only without TURN accepted")
	}
}
