// Package relay is shoal's TURN server (RFC 8656, pion/turn), for operators who want
// viewers' addresses hidden from each other: a viewer whose ICE uses only relay
// candidates (shoal peer --relay-only, the SDK's relayOnly) shows its neighbours the
// relay's address, never its own; the operator's relay sees both, as the tracker
// already does.
//
// Credentials are the TURN REST API's (draft-uberti-behave-turn-rest, as coturn's
// use-auth-secret): username "EXPIRY:NAME", password base64(HMAC-SHA1(secret,
// username)), so whoever holds the secret (the page's backend) mints short-lived
// credentials and the relay keeps no user list. Static users are for tests and
// small setups.
//
// The relay is not an open proxy: an allocation may only send to the relay's own
// relayed addresses (other viewers' allocations) and to AllowPeers, so it cannot be
// used to reach the operator's internal network.
package relay

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API's MAC is HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// ErrBadConfig wraps every configuration error.
var ErrBadConfig = errors.New("relay: bad config")

// Config configures a Relay. The zero value is not usable: it needs a Secret or Users.
type Config struct {
	Listen  string // UDP host:port; "" → 127.0.0.1:3478
	RelayIP string // the address allocations are advertised at; "" → Listen's host (which must then be specific)
	Realm   string // "" → "shoal"
	// Secret enables TURN REST credentials (Credentials mints them).
	Secret string
	// Users are static NAME → PASSWORD credentials.
	Users map[string]string
	// AllowPeers are extra peer ranges allocations may send to (default: only the
	// relay's own addresses).
	AllowPeers []netip.Prefix
	Logger     *slog.Logger // nil → discard
}

// Relay is a running TURN server.
type Relay struct {
	srv     *turn.Server
	conn    net.PacketConn
	relayIP netip.Addr
	bytes   atomic.Int64
}

// New listens and serves until Close.
func New(cfg Config) (*Relay, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:3478"
	}
	if cfg.Realm == "" {
		cfg.Realm = "shoal"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Secret == "" && len(cfg.Users) == 0 {
		return nil, fmt.Errorf("%w: a secret (TURN REST credentials) or users are required", ErrBadConfig)
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen %q: %v", ErrBadConfig, cfg.Listen, err)
	}
	if cfg.RelayIP == "" {
		cfg.RelayIP = host
	}
	relayIP, err := netip.ParseAddr(cfg.RelayIP)
	if err != nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("%w: relay IP %q: want the specific address viewers reach (--relay-ip)", ErrBadConfig, cfg.RelayIP)
	}
	conn, err := net.ListenPacket("udp4", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("relay: listen %s: %w", cfg.Listen, err)
	}
	r := &Relay{relayIP: relayIP.Unmap()}
	r.conn = &counting{PacketConn: conn, n: &r.bytes}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:       cfg.Realm,
		AuthHandler: authHandler(cfg),
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            r.conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IP(r.relayIP.AsSlice()), Address: host},
			PermissionHandler: func(_ net.Addr, peer net.IP) bool {
				a, ok := netip.AddrFromSlice(peer)
				if !ok {
					return false
				}
				a = a.Unmap()
				if a == r.relayIP {
					return true
				}
				for _, p := range cfg.AllowPeers {
					if p.Contains(a) {
						return true
					}
				}
				cfg.Logger.Debug("relay: permission refused", "peer", a)
				return false
			},
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	r.srv = srv
	return r, nil
}

// Addr is the UDP address the relay listens on.
func (r *Relay) Addr() net.Addr { return r.conn.LocalAddr() }

// URL is the turn: URL of the relay for ICE servers (turn:HOST:PORT).
func (r *Relay) URL() string {
	_, port, _ := net.SplitHostPort(r.conn.LocalAddr().String())
	return "turn:" + net.JoinHostPort(r.relayIP.String(), port)
}

// Allocations is the number of live allocations.
func (r *Relay) Allocations() int { return r.srv.AllocationCount() }

// BytesIn counts the bytes clients sent to the relay's listener (for tests and metrics).
func (r *Relay) BytesIn() int64 { return r.bytes.Load() }

// Close stops the relay and frees every allocation.
func (r *Relay) Close() error { return r.srv.Close() }

// Credentials mints TURN REST credentials for name, valid for ttl.
func Credentials(secret, name string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + name
	return username, restPassword(secret, username)
}

func restPassword(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func authHandler(cfg Config) turn.AuthHandler {
	return func(ra *turn.RequestAttributes) (string, []byte, bool) {
		if pw, ok := cfg.Users[ra.Username]; ok {
			return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, pw), true
		}
		if cfg.Secret == "" {
			return "", nil, false
		}
		exp, _, _ := strings.Cut(ra.Username, ":")
		t, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || time.Now().Unix() > t {
			cfg.Logger.Debug("relay: expired or malformed credentials", "user", ra.Username)
			return "", nil, false
		}
		return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, restPassword(cfg.Secret, ra.Username)), true
	}
}

// counting counts the bytes read from the listener.
type counting struct {
	net.PacketConn
	n *atomic.Int64
}

func (c *counting) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	c.n.Add(int64(n))
	return n, a, err
}
