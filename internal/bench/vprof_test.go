package bench

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestVProf(t *testing.T) {
	if os.Getenv("VPROF") == "" {
		t.Skip()
	}
	cfg, _ := Config{Clock: ClockVirtual, Peers: 1000, Duration: 20 * time.Second, Seed: 1}.withDefaults()
	specs := scenarios[cfg.Scenario](planParams{peers: cfg.Peers, duration: cfg.Duration, bitrate: demoBitrate, rng: rand.New(rand.NewPCG(1, 0x5eed))})
	start := time.Now()
	rr, _, err := runVirtual(cfg, ModeHybrid, specs)
	t.Log(err, rr.Offload, rr.Events, time.Since(start))
}
