package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is still running when they are
// done (nats.go's and nats-server's included: every server and connection is closed).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
