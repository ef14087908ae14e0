package tracker_test

import (
	"testing"

	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/tracker/storetest"
)

func TestMemStore(t *testing.T) {
	for _, shards := range []int{1, 64} {
		storetest.Run(t, func() tracker.Store { return tracker.NewMemStore(shards) })
	}
}
