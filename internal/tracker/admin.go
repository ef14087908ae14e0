package tracker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/signalling"
)

// Errors of the operator's controls (the admin API maps them to 4xx).
var (
	ErrUnknownStream = errors.New("tracker: unknown stream")
	ErrBadPolicy     = errors.New("tracker: policy out of range")
)

// controls is the tracker's copy of the operator's Controls. Changes are written to
// the store first, then applied, so a restart finds what the operator last saw.
type controls struct {
	store ControlStore
	mu    sync.RWMutex // guards m; writers also hold writeMu
	m     map[string]Control
	// writeMu serialises changes end to end (store write, core, connections), so two
	// operators' changes are applied in the order they were stored.
	writeMu sync.Mutex
}

// loadControls reads the store and applies every stored Control to the core (there are
// no peers yet, so this only sets policies).
func (t *Tracker) loadControls(ctx context.Context) error {
	all, err := t.ctl.store.Controls(ctx)
	if err != nil {
		return fmt.Errorf("tracker: load policies: %w", err)
	}
	t.ctl.m = make(map[string]Control, len(all))
	for _, c := range all {
		t.ctl.m[c.Stream] = c
		if c.Policy != nil || c.TakenDown {
			t.core.SetPolicy(t.now(), c.Stream, t.corePolicy(c))
		}
	}
	return nil
}

// Control returns the operator's Control of stream (the zero Control if none).
func (t *Tracker) Control(stream string) Control {
	t.ctl.mu.RLock()
	defer t.ctl.mu.RUnlock()
	c, ok := t.ctl.m[stream]
	if !ok {
		return Control{Stream: stream}
	}
	return cloneControl(c)
}

// corePolicy is the policy the swarm core applies to the stream as a whole: the
// stream's own (or the default), with P2P off while the stream is taken down.
func (t *Tracker) corePolicy(c Control) Policy {
	cfg := t.core.Config()
	p := Policy{P2PEnabled: true} // the core's default without Config.DefaultPolicy
	switch {
	case c.Policy != nil:
		p = *c.Policy
	case cfg.DefaultPolicy != nil:
		p = *cfg.DefaultPolicy
	}
	if c.TakenDown {
		p.P2PEnabled = false
	}
	return p.Normalise(cfg.MaxNeighbours)
}

// regionPolicy returns the policy a peer of region in stream gets, given the stream's
// policy as the core sends it: a region only restricts (P2P on where both are, the
// lower non-zero upload cap). ok is false when the region has no policy of its own.
func (t *Tracker) regionPolicy(stream, region string, core Policy) (p Policy, ok bool) {
	t.ctl.mu.RLock()
	r, ok := t.ctl.m[stream].Regions[region]
	t.ctl.mu.RUnlock()
	if !ok {
		return core, false
	}
	p = core
	p.P2PEnabled = core.P2PEnabled && r.P2PEnabled
	if r.MaxUpload > 0 && (p.MaxUpload == 0 || r.MaxUpload < p.MaxUpload) {
		p.MaxUpload = r.MaxUpload
	}
	return p, true
}

// regionOff reports whether peers of region in stream are kept out of the swarm.
func (t *Tracker) regionOff(stream, region string) bool {
	t.ctl.mu.RLock()
	defer t.ctl.mu.RUnlock()
	r, ok := t.ctl.m[stream].Regions[region]
	return ok && !r.P2PEnabled
}

// takenDown reports whether stream is taken down.
func (t *Tracker) takenDown(stream string) bool {
	t.ctl.mu.RLock()
	defer t.ctl.mu.RUnlock()
	return t.ctl.m[stream].TakenDown
}

// checkPolicy refuses a policy the tracker would not enforce as written.
func (t *Tracker) checkPolicy(p Policy, region bool) error {
	maxN := t.core.Config().MaxNeighbours
	switch {
	case p.MaxUpload < 0 || p.MaxUpload > signalling.MaxBitrate:
		return fmt.Errorf("%w: max_upload %d: want 0 (no cap) to 1e13 bit/s", ErrBadPolicy, p.MaxUpload)
	case p.Neighbours < 0 || p.Neighbours > maxN:
		return fmt.Errorf("%w: neighbours %d: want 0 (the tracker's bound) to %d", ErrBadPolicy, p.Neighbours, maxN)
	case region && p.Neighbours != 0:
		return fmt.Errorf("%w: neighbours is set per stream, not per region (leave it 0)", ErrBadPolicy)
	}
	return nil
}

func (c Control) validate() error {
	switch {
	case !ValidName(c.Stream):
		return fmt.Errorf("stream %q must match [A-Za-z0-9_-]{1,64}", c.Stream)
	case len(c.Regions) > MaxRegionPolicies:
		return fmt.Errorf("stream %q: %d region policies, at most %d", c.Stream, len(c.Regions), MaxRegionPolicies)
	}
	for r := range c.Regions {
		if r == "" || !signalling.ValidRegion(r) {
			return fmt.Errorf("stream %q: region %q must match [A-Za-z0-9_.:/-]{1,64}", c.Stream, r)
		}
	}
	return nil
}

// known reports whether the tracker knows stream: a swarm (current, or recent and
// kept for its totals) or a stored Control.
func (t *Tracker) known(ctx context.Context, stream string) (bool, error) {
	t.ctl.mu.RLock()
	_, ok := t.ctl.m[stream]
	t.ctl.mu.RUnlock()
	if ok {
		return true, nil
	}
	all, err := t.shared.Swarms(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range all {
		if s.Swarm.Stream == stream {
			return true, nil
		}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for k := range t.conns {
		if k.Stream == stream {
			return true, nil
		}
	}
	return false, nil
}

// update stores the stream's Control as changed by fn, then applies it: the core's
// policy (pushed to the peers), the peers of regions that went off or on, and a
// takedown's disconnections. fn returns an error to change nothing.
func (t *Tracker) update(ctx context.Context, stream string, fn func(c *Control) error) (Control, error) {
	t.ctl.writeMu.Lock()
	defer t.ctl.writeMu.Unlock()
	old := t.Control(stream)
	next := cloneControl(old)
	if err := fn(&next); err != nil {
		return old, err
	}
	if err := next.validate(); err != nil {
		return old, fmt.Errorf("%w: %w", ErrBadPolicy, err)
	}
	if err := t.ctl.store.PutControl(ctx, next); err != nil {
		return old, err
	}
	t.applyLocked(old, next, true)
	t.log.Info("tracker: control changed", "stream", stream, "policy", next.Policy, "regions", len(next.Regions), "taken_down", next.TakenDown)
	return next, nil
}

// ApplyControl applies a Control another node of the cluster stored (the shared
// ControlStore, cluster.Controls, hands each node the others' changes): this node's
// copy, its connections of regions that went off or on, and a takedown's
// disconnections. The swarms' policy itself reached every owner with the storing
// node's SetPolicy. An unchanged Control changes nothing.
func (t *Tracker) ApplyControl(c Control) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadPolicy, err)
	}
	if c.Policy != nil {
		if err := t.checkPolicy(*c.Policy, false); err != nil {
			return err
		}
	}
	t.ctl.writeMu.Lock()
	defer t.ctl.writeMu.Unlock()
	old := t.Control(c.Stream)
	t.applyLocked(old, cloneControl(c), false)
	if !reflect.DeepEqual(old, c) {
		t.log.Info("tracker: control changed on another node", "stream", c.Stream, "policy", c.Policy, "regions", len(c.Regions), "taken_down", c.TakenDown)
	}
	return nil
}

// applyLocked makes next this tracker's copy of the stream's Control and applies what
// changed from old: the swarms' policy (when setPolicy: this node stored the change),
// then the connections. writeMu must be held.
func (t *Tracker) applyLocked(old, next Control, setPolicy bool) {
	stream := next.Stream
	t.ctl.mu.Lock()
	if next.empty() {
		delete(t.ctl.m, stream)
	} else {
		t.ctl.m[stream] = cloneControl(next)
	}
	t.ctl.mu.Unlock()
	if setPolicy {
		t.SetPolicy(stream, t.corePolicy(next))
	}
	if !maps.Equal(old.Regions, next.Regions) {
		t.reconcileRegions(stream)
	}
	if next.TakenDown && !old.TakenDown {
		t.dropStream(stream)
	}
}

// streamConns returns the connections joined to any rendition of stream.
func (t *Tracker) streamConns(stream string) map[SwarmKey][]*conn {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[SwarmKey][]*conn)
	for k, cs := range t.conns {
		if k.Stream != stream {
			continue
		}
		for _, c := range cs {
			out[k] = append(out[k], c)
		}
	}
	return out
}

// dropStream disconnects every peer of a taken-down stream.
func (t *Tracker) dropStream(stream string) {
	for k, cs := range t.streamConns(stream) {
		unlock := t.lock(k)
		for _, c := range cs {
			t.removeLocked(c)
			c.closeAfter(&Error{Code: CodeUnauthorized, Message: "stream " + stream + " was taken down by the operator"},
				websocket.StatusPolicyViolation, "taken down")
		}
		unlock()
	}
}
