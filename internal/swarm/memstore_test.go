package swarm_test

import (
	"testing"

	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/swarm/storetest"
)

func TestMemStore(t *testing.T) {
	for _, shards := range []int{1, 64} {
		storetest.Run(t, func() swarm.Store { return swarm.NewMemStore(shards) })
	}
}
