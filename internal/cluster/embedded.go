package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures an embedded nats-server, so a single box or a test needs
// nothing installed. Listen is required; Cluster and Routes make it one node of a
// NATS cluster of embedded servers.
type ServerConfig struct {
	Name    string   // server name; default the client address
	Listen  string   // client address host:port (port 0 picks one)
	Cluster string   // route listen address host:port; empty: no cluster
	Routes  []string // nats://host:port of the other servers' Cluster addresses
	// ClusterName names the NATS cluster; default "shoal".
	ClusterName string
	// StoreDir turns JetStream on, keeping its streams (the cluster's controls
	// bucket) in this directory; empty: no JetStream. In a NATS cluster every server
	// needs its own directory and a Name unique in the cluster.
	StoreDir string
}

// ErrServer wraps failures to start an embedded server.
var ErrServer = errors.New("cluster: embedded nats-server")

// StartServer starts an embedded nats-server and waits until it accepts clients.
// Stop it with Shutdown.
func StartServer(cfg ServerConfig) (*server.Server, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen %q: %v", ErrServer, cfg.Listen, err)
	}
	opts := &server.Options{
		ServerName: cfg.Name, Host: host, Port: port,
		NoLog: true, NoSigs: true, MaxPayload: 4 << 20,
	}
	if cfg.StoreDir != "" {
		opts.JetStream, opts.StoreDir = true, cfg.StoreDir
	}
	if cfg.Cluster != "" {
		ch, cp, err := splitHostPort(cfg.Cluster)
		if err != nil {
			return nil, fmt.Errorf("%w: cluster %q: %v", ErrServer, cfg.Cluster, err)
		}
		name := cfg.ClusterName
		if name == "" {
			name = "shoal"
		}
		opts.Cluster = server.ClusterOpts{Name: name, Host: ch, Port: cp, ConnectRetries: -1}
		for _, r := range cfg.Routes {
			u := server.RoutesFromStr(r)
			if len(u) == 0 {
				return nil, fmt.Errorf("%w: route %q: want nats://host:port", ErrServer, r)
			}
			opts.Routes = append(opts.Routes, u...)
		}
	}
	if opts.JetStream && cfg.Cluster != "" && len(opts.Routes) == 0 {
		// nats-server would stop at once: clustered JetStream needs routes.
		return nil, fmt.Errorf("%w: JetStream in a NATS cluster needs routes: give every server the route addresses of all (its own included)", ErrServer)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServer, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("%w: not ready within 10s", ErrServer)
	}
	return s, nil
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if n == 0 {
		n = -1 // nats-server: -1 picks a random port (0 means the default 4222)
	}
	return h, n, nil
}
