package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-cdn/shoal/internal/cluster"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// clusterFlags join `shoal tracker` to a tracker cluster over NATS.
type clusterFlags struct {
	nats, node, creds, tlsCA, tlsCert, tlsKey *string
	embed, embedCluster, embedRoutes          *string
	embedStore                                *string
	kvReplicas                                *int
	deadAfter                                 *time.Duration
}

func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	return &clusterFlags{
		nats:         fs.String("nats", "", "NATS servers nats://HOST:PORT[,…] (tls:// for TLS): join the tracker cluster on them"),
		node:         fs.String("node", "", "this tracker's node name in the cluster, [A-Za-z0-9_-]{1,64} (default random)"),
		creds:        fs.String("nats-creds", "", "NATS credentials file (JWT and NKey seed)"),
		tlsCA:        fs.String("nats-tls-ca", "", "PEM CA file that signs the NATS servers' certificates"),
		tlsCert:      fs.String("nats-tls-cert", "", "PEM client certificate for NATS (mutual TLS)"),
		tlsKey:       fs.String("nats-tls-key", "", "PEM private key for --nats-tls-cert"),
		embed:        fs.String("nats-embed", "", "run an embedded nats-server with its client port on HOST:PORT (joined when --nats is empty)"),
		embedCluster: fs.String("nats-embed-cluster", "", "the embedded server's route address HOST:PORT: it forms a NATS cluster with --nats-embed-routes"),
		embedRoutes:  fs.String("nats-embed-routes", "", "route addresses nats://HOST:PORT[,…] of the other embedded servers"),
		embedStore:   fs.String("nats-embed-store", "", "turn JetStream on in the embedded server, keeping its files (the cluster's policies) in DIR"),
		kvReplicas:   fs.Int("nats-kv-replicas", 0, "copies of the cluster's policy bucket in JetStream (0: one per NATS server known, up to 3)"),
		deadAfter:    fs.Duration("cluster-dead-after", time.Second, "a node silent this long is dead and its swarms are taken over (heartbeats every 250ms)"),
	}
}

// start returns the cluster node (nil without --nats or --nats-embed) and a stop
// function for the embedded server.
func (c *clusterFlags) start(log *slog.Logger, reg prometheus.Registerer) (*cluster.Node, func(), error) {
	stop := func() {}
	urls := splitList(*c.nats)
	if *c.embed != "" {
		s, err := cluster.StartServer(cluster.ServerConfig{Name: *c.node, Listen: *c.embed,
			Cluster: *c.embedCluster, Routes: splitList(*c.embedRoutes), StoreDir: *c.embedStore})
		if err != nil {
			return nil, stop, err
		}
		stop = func() { s.Shutdown(); s.WaitForShutdown() }
		log.Info("embedded nats-server", "client", s.ClientURL(), "cluster", clusterAddr(s))
		if len(urls) == 0 {
			urls = []string{s.ClientURL()}
		}
	} else if *c.embedCluster != "" || *c.embedRoutes != "" || *c.embedStore != "" {
		return nil, stop, fmt.Errorf("--nats-embed-cluster, --nats-embed-routes and --nats-embed-store need --nats-embed")
	}
	if len(urls) == 0 {
		return nil, stop, nil
	}
	tlsCfg, err := c.tls()
	if err != nil {
		stop()
		return nil, stop, err
	}
	n, err := cluster.New(cluster.Config{URLs: urls, Name: *c.node, TLS: tlsCfg, CredsFile: *c.creds,
		DeadAfter: *c.deadAfter, Logger: log, Registerer: reg})
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	return n, stop, nil
}

func clusterAddr(s *server.Server) string {
	if a := s.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

func (c *clusterFlags) tls() (*tls.Config, error) {
	if *c.tlsCA == "" && *c.tlsCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if *c.tlsCA != "" {
		pem, err := os.ReadFile(*c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--nats-tls-ca %s: no PEM certificate", *c.tlsCA)
		}
	}
	if *c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*c.tlsCert, *c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--nats-tls-cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// shared opens the cluster's JetStream buckets: the operator's controls (in place of
// the per-node --policy-file) and the swarms' bans (around the store the tracker's
// core decides with). nil, nil, nil when NATS has no JetStream (controls and bans then
// stay per node, as the warning says).
func (c *clusterFlags) shared(ctx context.Context, n *cluster.Node, log *slog.Logger) (*cluster.Controls, *cluster.Bans, error) {
	ctl, err := n.OpenControls(ctx, *c.kvReplicas)
	if errors.Is(err, cluster.ErrNoJetStream) {
		log.Warn("cluster: NATS has no JetStream, so policies are kept per node (--policy-file) and a restart forgets other nodes' changes; enable JetStream on the NATS servers or give --nats-embed-store", "err", err)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	bans, err := n.OpenBans(ctx, swarm.NewMemStore(64), *c.kvReplicas)
	if err != nil {
		ctl.Close()
		return nil, nil, err
	}
	return ctl, bans, nil
}
