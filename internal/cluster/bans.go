package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

// Bans is the store an owner's core decides with (a swarm.MemStore) whose bans are
// also kept in the cluster's JetStream bucket and mirrored from it into every node's
// store: a ban outlives its owner (a takeover, a restart of any node or of the whole
// cluster), and whichever node owns the swarm next refuses the banned peer. Lifting a
// ban (Unban) deletes it from the bucket too. Bans the bucket could not take are kept
// in memory and logged.
//
// Key: base64url(stream).base64url(rendition).id|addr.base64url(value); value:
// {"node": NAME, "until": unix nanoseconds}. The bucket forgets an entry 24 h after
// its last write; a ban in force longer than that is kept by the owner's store only.
type Bans struct {
	*swarm.MemStore
	node string
	kv   jetstream.KeyValue
	w    jetstream.KeyWatcher
	stop context.CancelFunc
	done chan struct{}
	log  *slog.Logger
}

var _ swarm.BanLister = (*Bans)(nil)

type banEntry struct {
	Node  string `json:"node"`
	Until int64  `json:"until"`
}

// Bounds of the bans bucket.
const (
	bansTTL      = 24 * time.Hour
	bansMaxBytes = 64 << 20
)

// BansBucket names the bans bucket of a cluster prefix.
func BansBucket(prefix string) string {
	return strings.TrimSuffix(ControlsBucket(prefix), "_controls") + "_bans"
}

var b64 = base64.RawURLEncoding

func banKey(k swarm.SwarmKey, kind, v string) string {
	return b64.EncodeToString([]byte(k.Stream)) + "." + b64.EncodeToString([]byte(k.Rendition)) + "." + kind + "." + b64.EncodeToString([]byte(v))
}

func parseBanKey(key string) (k swarm.SwarmKey, kind, v string, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 4 || (parts[2] != "id" && parts[2] != "addr") {
		return k, "", "", false
	}
	var dec [3][]byte
	for i, p := range []string{parts[0], parts[1], parts[3]} {
		b, err := b64.DecodeString(p)
		if err != nil || len(b) == 0 || len(b) > 128 {
			return k, "", "", false
		}
		dec[i] = b
	}
	return swarm.SwarmKey{Stream: string(dec[0]), Rendition: string(dec[1])}, parts[2], string(dec[2]), true
}

// OpenBans opens the cluster's bans bucket around mem (replicas as OpenControls) and
// copies every ban in it into mem before it returns; ErrNoJetStream without JetStream.
func (n *Node) OpenBans(ctx context.Context, mem *swarm.MemStore, replicas int) (*Bans, error) {
	kv, err := n.openBucket(ctx, jetstream.KeyValueConfig{
		Bucket: BansBucket(n.cfg.Prefix), Description: "shoal tracker: bans of every swarm",
		History: 1, TTL: bansTTL, MaxBytes: bansMaxBytes, MaxValueSize: 256, Storage: jetstream.FileStorage,
	}, replicas)
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: watch bans: %w", err)
	}
	b := &Bans{MemStore: mem, node: n.cfg.Name, kv: kv, w: w, stop: stop, done: make(chan struct{}), log: n.log}
	ctx, cancel := context.WithTimeout(ctx, controlsOpenWait)
	defer cancel()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				stop()
				return nil, errors.New("cluster: watch bans: closed")
			}
			if e == nil {
				go b.watch()
				return b, nil
			}
			b.take(e, true)
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("cluster: read bans: %w", ctx.Err())
		}
	}
}

// take mirrors one bucket entry into the store (this node's own writes only on the
// first read: afterwards they are there already).
func (b *Bans) take(e jetstream.KeyValueEntry, first bool) {
	k, kind, v, ok := parseBanKey(e.Key())
	if !ok {
		return
	}
	bg := context.Background()
	if e.Operation() != jetstream.KeyValuePut {
		if kind == "id" {
			b.MemStore.Unban(bg, k, v, "", time.Time{})
		} else {
			b.MemStore.Unban(bg, k, "", v, time.Time{})
		}
		return
	}
	var be banEntry
	if json.Unmarshal(e.Value(), &be) != nil || (be.Node == b.node && !first) {
		return
	}
	ban := swarm.Ban{Until: time.Unix(0, be.Until)}
	if kind == "id" {
		ban.PeerID = v
	} else {
		ban.Addr = v
	}
	b.MemStore.Ban(bg, k, ban)
}

func (b *Bans) watch() {
	defer close(b.done)
	for e := range b.w.Updates() {
		if e != nil {
			b.take(e, false)
		}
	}
}

// Ban implements swarm.Store: in this node's store, then in the bucket.
func (b *Bans) Ban(ctx context.Context, k swarm.SwarmKey, ban swarm.Ban) error {
	if err := b.MemStore.Ban(ctx, k, ban); err != nil {
		return err
	}
	val, _ := json.Marshal(banEntry{Node: b.node, Until: ban.Until.UnixNano()})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for kind, v := range map[string]string{"id": ban.PeerID, "addr": ban.Addr} {
		if v == "" {
			continue
		}
		if _, err := b.kv.Put(ctx, banKey(k, kind, v), val); err != nil {
			b.log.Warn("cluster: ban kept in memory only", "swarm", k, kind, v, "err", err)
		}
	}
	return nil
}

// Unban implements swarm.BanLister: in this node's store and in the bucket.
func (b *Bans) Unban(ctx context.Context, k swarm.SwarmKey, id, addr string, now time.Time) (bool, error) {
	found, err := b.MemStore.Unban(ctx, k, id, addr, now)
	if err != nil {
		return found, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for kind, v := range map[string]string{"id": id, "addr": addr} {
		if v == "" {
			continue
		}
		if err := b.kv.Delete(ctx, banKey(k, kind, v)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return found, fmt.Errorf("cluster: unban not stored: %w", err)
		}
	}
	return found, nil
}

// Close stops mirroring.
func (b *Bans) Close() error {
	b.stop()
	b.w.Stop()
	<-b.done
	return nil
}
