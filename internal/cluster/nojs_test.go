package cluster

import (
	"context"
	"errors"
	"testing"
)

// TestControlsNoJetStream: on NATS servers without JetStream, OpenControls says so
// with ErrNoJetStream (the tracker then keeps per-node policies) instead of waiting.
func TestControlsNoJetStream(t *testing.T) {
	s, err := StartServer(ServerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	n, err := New(Config{URLs: []string{s.ClientURL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.nc.Close()
	if _, err := n.OpenControls(context.Background(), 0); !errors.Is(err, ErrNoJetStream) {
		t.Fatalf("OpenControls = %v, want ErrNoJetStream", err)
	}
}
