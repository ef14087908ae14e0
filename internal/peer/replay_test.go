//go:build !race

package peer

import (
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// recorder is a journal kept in memory.
type recorder struct {
	mu  sync.Mutex
	t0  time.Time
	log []record
}

type record struct {
	at   time.Time
	ev   engine.Event    // a Step, or nil for a Ready
	acts []engine.Action // what that Ready gave
}

func (r *recorder) start(at time.Time) { r.mu.Lock(); r.t0 = at; r.mu.Unlock() }

func (r *recorder) step(at time.Time, ev engine.Event) {
	r.mu.Lock()
	r.log = append(r.log, record{at: at, ev: ev})
	r.mu.Unlock()
}

func (r *recorder) ready(at time.Time, acts []engine.Action) {
	r.mu.Lock()
	r.log = append(r.log, record{at: at, acts: slices.Clone(acts)})
	r.mu.Unlock()
}

// TestReplay records every event a real engine (real edge, tracker and
// WebRTC neighbours) took during a short swarm run, replays them with their
// times into a fresh core, and requires the very same actions at every
// Ready: the core's decisions depend on its events and their times only, so
// the virtual-time bench, which feeds the core the same way, runs the
// decisions production runs.
func TestReplay(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	recs := make([]*recorder, 3)
	cfgs := make([]Config, 3)
	r := runSwarm(t, w, 3, 10*time.Second, func(i int, c *Config) {
		recs[i] = &recorder{}
		c.journal = recs[i]
		cfgs[i] = *c
	})
	for i, rec := range recs {
		rec.mu.Lock()
		cfg, err := cfgs[i].withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		e := engine.New(cfg.coreConfig(), rec.t0)
		readies, acts, frames := 0, 0, 0
		for j, rc := range rec.log {
			if rc.ev != nil {
				if _, ok := rc.ev.(engine.FrameReceived); ok {
					frames++
				}
				e.Step(rc.at, rc.ev)
				continue
			}
			got := e.Ready(rc.at)
			readies++
			acts += len(got)
			if !reflect.DeepEqual(slices.Clone(got), rc.acts) && !(len(got) == 0 && len(rc.acts) == 0) {
				t.Fatalf("peer %d, record %d (Ready at +%v): replay gave %d actions %.300v, the run %d %.300v",
					i, j, rc.at.Sub(rec.t0), len(got), got, len(rc.acts), rc.acts)
			}
		}
		rec.mu.Unlock()
		if frames == 0 || acts == 0 {
			t.Errorf("peer %d: the run recorded %d frames and %d actions: nothing to compare", i, frames, acts)
		}
		t.Logf("peer %d: %d events, %d Readies, %d actions replayed identically (%d neighbour frames; %d bytes P2P)",
			i, len(rec.log)-readies, readies, acts, frames, r.stats[i].BytesP2P)
	}
}
