package peer

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is still running when
// they are done: every one of ours must end with the test that started it.
func TestMain(m *testing.M) {
	// IgnoreCurrent: nbio's websocket package starts a default engine's task
	// pools at init (internal/tracker/wsserver.go); they are not a test's.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
