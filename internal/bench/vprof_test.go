package bench

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestVProf(t *testing.T) {
	if os.Getenv("VPROF") == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("VPROF"))
	cfg, _ := Config{Clock: ClockVirtual, Peers: n, Duration: 15 * time.Second, Seed: 1}.withDefaults()
	specs := scenarios[cfg.Scenario](planParams{peers: cfg.Peers, duration: cfg.Duration, bitrate: demoBitrate, rng: rand.New(rand.NewPCG(1, 0x5eed))})
	start := time.Now()
	rr, _, err := runVirtual(cfg, ModeHybrid, specs)
	t.Log(err, rr.Offload, rr.Events, time.Since(start))
}
