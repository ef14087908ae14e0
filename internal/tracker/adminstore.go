package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Control is the operator's standing instructions for one stream: its policy, the
// policies of regions that differ, and whether it is taken down. Its zero value (all
// defaults, not taken down) is what a stream without a Control gets.
type Control struct {
	Stream string `json:"stream"`
	// Policy is the stream's policy; nil → Config.DefaultPolicy.
	Policy *Policy `json:"policy,omitempty"`
	// Regions restrict the stream's policy for viewers of one region (trusted region,
	// see Config.RegionHeader): P2P is on only where both are on, and the lower
	// non-zero upload cap wins. The neighbour bound is the stream's.
	Regions map[string]Policy `json:"regions,omitempty"`
	// TakenDown: joins are refused and connected peers dropped (POST …/takedown).
	TakenDown bool `json:"taken_down,omitempty"`
}

// empty reports whether c holds nothing beyond the defaults.
func (c Control) empty() bool { return c.Policy == nil && len(c.Regions) == 0 && !c.TakenDown }

// IsEmpty reports whether c holds nothing beyond the defaults (a ControlStore deletes
// such a Control rather than keeping it).
func (c Control) IsEmpty() bool { return c.empty() }

// Validate checks c as the admin API does before storing it: a store shared with
// other processes checks what it reads.
func (c Control) Validate() error { return c.validate() }

// ControlStore persists Controls across restarts. FileControlStore is the default; a
// clustered tracker puts a shared store here, so a policy set on one node holds on
// every node (each node re-reads it at start; live changes reach other nodes only
// through a store that also tells them, which this interface leaves to the cluster).
type ControlStore interface {
	// Controls returns every stored Control, sorted by stream.
	Controls(ctx context.Context) ([]Control, error)
	// PutControl stores c, replacing the stream's previous one; an empty c deletes it.
	PutControl(ctx context.Context, c Control) error
}

// MaxControls bounds the streams a ControlStore keeps, and MaxRegionPolicies the
// regions per stream, so a token holder's mistakes cannot grow the file without bound.
const (
	MaxControls       = 10000
	MaxRegionPolicies = 256
)

// ErrTooManyControls: the store holds MaxControls streams already.
var ErrTooManyControls = errors.New("tracker: too many stream controls")

// MemControlStore is a ControlStore in memory (tests, or a tracker that forgets). Its
// zero value is ready to use.
type MemControlStore struct {
	mu sync.Mutex
	m  map[string]Control
}

// Controls implements ControlStore.
func (s *MemControlStore) Controls(context.Context) ([]Control, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedControls(s.m), nil
}

// PutControl implements ControlStore.
func (s *MemControlStore) PutControl(_ context.Context, c Control) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]Control)
	}
	return putControl(s.m, c)
}

func putControl(m map[string]Control, c Control) error {
	if c.empty() {
		delete(m, c.Stream)
		return nil
	}
	if _, ok := m[c.Stream]; !ok && len(m) >= MaxControls {
		return ErrTooManyControls
	}
	m[c.Stream] = cloneControl(c)
	return nil
}

func cloneControl(c Control) Control {
	if c.Policy != nil {
		p := *c.Policy
		c.Policy = &p
	}
	if c.Regions != nil {
		r := make(map[string]Policy, len(c.Regions))
		for k, v := range c.Regions {
			r[k] = v
		}
		c.Regions = r
	}
	return c
}

func sortedControls(m map[string]Control) []Control {
	out := make([]Control, 0, len(m))
	for _, c := range m {
		out = append(out, cloneControl(c))
	}
	slices.SortFunc(out, func(a, b Control) int { return strings.Compare(a.Stream, b.Stream) })
	return out
}

// FileControlStore keeps Controls in one JSON file (an array of Control), rewritten
// whole on every change through a temporary file and a rename, so a crash leaves the
// old file or the new one, never half of one.
type FileControlStore struct {
	path string
	mu   sync.Mutex
	m    map[string]Control
}

// OpenFileControlStore reads path (a missing file is an empty store) and checks every
// entry as the admin API would.
func OpenFileControlStore(path string) (*FileControlStore, error) {
	s := &FileControlStore{path: path, m: make(map[string]Control)}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("tracker: policy file: %w", err)
	}
	var all []Control
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("tracker: policy file %s: %w", path, err)
	}
	if len(all) > MaxControls {
		return nil, fmt.Errorf("tracker: policy file %s: %d streams, at most %d", path, len(all), MaxControls)
	}
	for _, c := range all {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("tracker: policy file %s: %w", path, err)
		}
		s.m[c.Stream] = c
	}
	return s, nil
}

// Controls implements ControlStore.
func (s *FileControlStore) Controls(context.Context) ([]Control, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedControls(s.m), nil
}

// PutControl implements ControlStore: the file is replaced before it returns.
func (s *FileControlStore) PutControl(_ context.Context, c Control) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]Control, len(s.m)+1)
	for k, v := range s.m {
		next[k] = v
	}
	if err := putControl(next, c); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sortedControls(next), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("tracker: policy file: %w", err)
	}
	s.m = next
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
