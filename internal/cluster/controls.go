package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-cdn/shoal/internal/tracker"
)

// Controls is the operator's stream controls (policies, region policies, takedowns)
// for the whole cluster, in a NATS JetStream key-value bucket: replicated by
// JetStream's Raft over the NATS servers and kept on their disks, so a policy set on
// any node holds on every node and survives restarts of trackers and NATS servers.
// It implements tracker.ControlStore; every node watches the bucket and applies the
// changes other nodes stored (Watch).
//
// The bucket keeps one revision per stream (key: the stream name, value: a
// controlEntry). Reads come from this node's copy, which the watcher keeps current.
type Controls struct {
	node string
	kv   jetstream.KeyValue
	w    jetstream.KeyWatcher
	stop context.CancelFunc // ends the watch
	log  *slog.Logger

	mu    sync.Mutex
	m     map[string]tracker.Control
	apply func(tracker.Control) error // set by Watch
	done  chan struct{}
}

// controlEntry is one bucket value: the Control and the node that stored it (whose
// tracker applied it already).
type controlEntry struct {
	Node    string          `json:"node"`
	Control tracker.Control `json:"control"`
}

// ErrNoJetStream: the NATS servers have no JetStream (enable it on them, or run the
// embedded server with a store directory); the caller keeps per-node controls.
var ErrNoJetStream = errors.New("cluster: NATS has no JetStream")

// Bucket bounds: a Control is under 30 KiB even with MaxRegionPolicies regions.
const (
	controlsMaxValue = 64 << 10
	controlsOpenWait = 20 * time.Second // JetStream's Raft electing a leader after a restart
	controlsAttempt  = 2 * time.Second
)

// ControlsBucket names the bucket of a cluster prefix (KV names allow no dots).
func ControlsBucket(prefix string) string {
	return strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(prefix) + "_controls"
}

// OpenControls opens (creating if needed) the cluster's controls bucket with replicas
// copies (0: as many NATS servers as this node knows, up to 3) and reads it whole.
// It waits up to 20 s for JetStream to become available (a restarting NATS cluster
// elects its leaders first); ErrNoJetStream when the servers have none.
func (n *Node) OpenControls(ctx context.Context, replicas int) (*Controls, error) {
	kv, err := n.openBucket(ctx, jetstream.KeyValueConfig{
		Bucket: ControlsBucket(n.cfg.Prefix), Description: "shoal tracker: operator's stream controls",
		History: 1, Storage: jetstream.FileStorage, MaxValueSize: controlsMaxValue,
	}, replicas)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, controlsOpenWait)
	defer cancel()
	wctx, stop := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: watch controls: %w", err)
	}
	c := &Controls{node: n.cfg.Name, kv: kv, w: w, stop: stop, log: n.log, m: make(map[string]tracker.Control), done: make(chan struct{})}
	// The watcher sends every current value, then nil.
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				stop()
				return nil, fmt.Errorf("cluster: watch controls: closed")
			}
			if e == nil {
				go c.watch()
				n.log.Info("cluster: controls bucket open", "bucket", kv.Bucket(), "streams", len(c.m))
				return c, nil
			}
			c.take(e, true)
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("cluster: read controls: %w", ctx.Err())
		}
	}
}

// take applies one bucket entry to this node's copy and returns the Control, whether
// another node stored it (so this tracker has yet to apply it) and whether it is
// valid. After the first read, this node's own puts are skipped: PutControl set the
// copy already, and an echo arriving after a later put must not undo it.
func (c *Controls) take(e jetstream.KeyValueEntry, first bool) (tracker.Control, bool, bool) {
	stream := e.Key()
	var ce controlEntry
	if e.Operation() == jetstream.KeyValuePut {
		if err := json.Unmarshal(e.Value(), &ce); err != nil || ce.Control.Stream != stream || ce.Control.Validate() != nil {
			c.log.Warn("cluster: bad controls entry ignored", "stream", stream)
			return tracker.Control{}, false, false
		}
		if ce.Node == c.node && !first {
			return ce.Control, false, true
		}
	} else {
		ce.Control.Stream = stream // deleted: back to the defaults
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ce.Control.IsEmpty() {
		delete(c.m, stream)
	} else {
		c.m[stream] = ce.Control
	}
	return ce.Control, ce.Node != c.node, true
}

func (c *Controls) watch() {
	defer close(c.done)
	for e := range c.w.Updates() {
		if e == nil {
			continue
		}
		ctl, remote, ok := c.take(e, true)
		c.mu.Lock()
		apply := c.apply
		c.mu.Unlock()
		if ok && remote && apply != nil {
			if err := apply(ctl); err != nil {
				c.log.Warn("cluster: control from another node not applied", "stream", ctl.Stream, "err", err)
			}
		}
	}
}

// Watch hands every change another node stores to apply (tracker.ApplyControl), and
// first every Control now in the bucket, so none stored between the tracker's start
// and this call is missed (applying an unchanged Control changes nothing).
func (c *Controls) Watch(apply func(tracker.Control) error) {
	c.mu.Lock()
	c.apply = apply
	all := slices.Collect(maps.Values(c.m))
	c.mu.Unlock()
	for _, ctl := range all {
		if err := apply(ctl); err != nil {
			c.log.Warn("cluster: control not applied", "stream", ctl.Stream, "err", err)
		}
	}
}

// Controls implements tracker.ControlStore.
func (c *Controls) Controls(context.Context) ([]tracker.Control, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Collect(maps.Values(c.m))
	slices.SortFunc(out, func(a, b tracker.Control) int { return strings.Compare(a.Stream, b.Stream) })
	return out, nil
}

// PutControl implements tracker.ControlStore: the bucket has the change (on a quorum
// of its replicas) before it returns; an empty Control deletes the stream's entry.
func (c *Controls) PutControl(ctx context.Context, ctl tracker.Control) error {
	if ctl.IsEmpty() {
		if err := c.kv.Delete(ctx, ctl.Stream); err != nil {
			return fmt.Errorf("cluster: delete control: %w", err)
		}
	} else {
		c.mu.Lock()
		_, had := c.m[ctl.Stream]
		full := !had && len(c.m) >= tracker.MaxControls
		c.mu.Unlock()
		if full {
			return tracker.ErrTooManyControls
		}
		b, err := json.Marshal(controlEntry{Node: c.node, Control: ctl})
		if err != nil {
			return err
		}
		if _, err := c.kv.Put(ctx, ctl.Stream, b); err != nil {
			return fmt.Errorf("cluster: put control: %w", err)
		}
	}
	// This node's copy now, not when the watcher comes round: a GET right after the
	// PUT must see it.
	c.mu.Lock()
	if ctl.IsEmpty() {
		delete(c.m, ctl.Stream)
	} else {
		c.m[ctl.Stream] = ctl
	}
	c.mu.Unlock()
	return nil
}

// Close stops watching.
func (c *Controls) Close() error {
	c.stop()
	err := c.w.Stop()
	<-c.done
	if errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
		err = nil // already ended with the context or the connection
	}
	return err
}

// openBucket creates (or opens) a key-value bucket with replicas copies (0: as many
// NATS servers as this node knows, up to 3), waiting up to controlsOpenWait for
// JetStream; ErrNoJetStream when the servers have none.
func (n *Node) openBucket(ctx context.Context, cfg jetstream.KeyValueConfig, replicas int) (jetstream.KeyValue, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, controlsOpenWait)
	defer cancel()
	for {
		cfg.Replicas = replicas
		if cfg.Replicas == 0 {
			cfg.Replicas = min(3, 1+len(n.nc.DiscoveredServers()))
		}
		// Each attempt on its own deadline: a request made before JetStream has a
		// leader gets no answer at all.
		actx, acancel := context.WithTimeout(ctx, controlsAttempt)
		kv, err := js.CreateOrUpdateKeyValue(actx, cfg)
		acancel()
		switch {
		case err == nil:
			return kv, nil
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
			errors.Is(err, nats.ErrNoResponders):
			// A server with JetStream answers (or stays silent until it has a leader);
			// no responder at all means it has none.
			return nil, fmt.Errorf("%w: %v", ErrNoJetStream, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("cluster: bucket %s: %w", cfg.Bucket, err)
		}
		n.log.Debug("cluster: bucket not ready", "bucket", cfg.Bucket, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
