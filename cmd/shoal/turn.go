package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/shoal-cdn/shoal/internal/quota"
	"github.com/shoal-cdn/shoal/internal/relay"
)

func runTurn(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("turn", "A TURN relay (RFC 8656, pion/turn) for viewers' WebRTC: with relay-only ICE\n(shoal peer --relay-only, the SDK's relayOnly) neighbours see the relay's address, never\nthe viewer's. Credentials are TURN REST ones from --secret (--mint prints a pair); the relay\nonly forwards between its own allocations (and --allow-peer ranges): not an open proxy.")
	listen := fs.String("listen", "127.0.0.1:3478", "UDP address to serve on (port 0 picks a free port)")
	relayIP := fs.String("relay-ip", "", "address viewers reach the relay at (default: --listen's host, which must then be specific)")
	realm := fs.String("realm", "shoal", "TURN realm")
	secret := fs.String("secret", "", "shared secret for TURN REST credentials (required unless --user)")
	users := keyValues{}
	fs.Var(users, "user", "static credentials NAME=PASSWORD (repeatable)")
	allow := fs.String("allow-peer", "", "comma-separated CIDRs allocations may also send to (default: only the relay's own addresses)")
	mint := fs.String("mint", "", "print TURN REST credentials for this name (valid --mint-ttl) and exit")
	mintTTL := fs.Duration("mint-ttl", 12*time.Hour, "validity of --mint's credentials")
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *mint != "" {
		if *secret == "" {
			return fmt.Errorf("--mint needs --secret")
		}
		u, p := relay.Credentials(*secret, *mint, *mintTTL, time.Now())
		fmt.Fprintf(stdout, "--turn-user %s --turn-pass %s\n", u, p)
		return nil
	}
	px, err := quota.ParseProxies(*allow) // the same CIDR list syntax
	if err != nil {
		return fmt.Errorf("--allow-peer: %w", err)
	}
	log := logger().With("component", "turn")
	r, err := relay.New(relay.Config{Listen: *listen, RelayIP: *relayIP, Realm: *realm, Secret: *secret,
		Users: users, AllowPeers: append([]netip.Prefix(nil), px.Prefixes...), Logger: log})
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(stdout, "shoal turn on %s (ICE server %s)\n", r.Addr(), r.URL())
	<-ctx.Done()
	return nil
}
