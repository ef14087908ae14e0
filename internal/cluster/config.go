package cluster

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/clusterwire"
)

// ErrConfig wraps configuration errors.
var ErrConfig = errors.New("cluster: bad config")

// Config configures a Node. URLs is required; every other zero field takes the default
// written beside it.
type Config struct {
	URLs      []string    // NATS servers, nats:// or tls://
	Name      string      // this node's name, unique in the cluster ([A-Za-z0-9_-]{1,64}); default random
	Prefix    string      // subject prefix; default clusterwire.DefaultPrefix
	TLS       *tls.Config // TLS to the NATS servers (a tls:// URL also turns it on); nil → none
	CredsFile string      // NATS user credentials (JWT + NKey seed) file; empty → none

	BeatInterval   time.Duration // heartbeat period; default 250ms
	DeadAfter      time.Duration // a node silent this long is dead, its swarms taken over; default 4 × BeatInterval
	SettleDelay    time.Duration // restores a new owner waits for before settling a swarm; default 2 × BeatInterval
	RequestTimeout time.Duration // a join forwarded to its owner; default 2s

	Logger     *slog.Logger          // nil → discard
	Registerer prometheus.Registerer // nil → no metrics
}

func (c Config) withDefaults() (Config, error) {
	if len(c.URLs) == 0 {
		return c, fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	if c.Name == "" {
		var b [6]byte
		rand.Read(b[:])
		c.Name = "n" + base64.RawURLEncoding.EncodeToString(b[:])
	}
	if !clusterwire.ValidNode(c.Name) {
		return c, fmt.Errorf("%w: node name %q must match [A-Za-z0-9_-]{1,64}", ErrConfig, c.Name)
	}
	if c.Prefix == "" {
		c.Prefix = clusterwire.DefaultPrefix
	}
	if c.BeatInterval == 0 {
		c.BeatInterval = 250 * time.Millisecond
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = 4 * c.BeatInterval
	}
	if c.SettleDelay == 0 {
		c.SettleDelay = 2 * c.BeatInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 2 * time.Second
	}
	if c.BeatInterval < 0 || c.DeadAfter <= c.BeatInterval || c.SettleDelay < 0 || c.RequestTimeout < 0 {
		return c, fmt.Errorf("%w: negative duration or DeadAfter not above BeatInterval", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
