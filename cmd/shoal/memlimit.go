package main

import (
	"os"
	"runtime/debug"
)

// setMemoryLimit sets the Go runtime's soft memory limit to limit bytes unless
// the operator set GOMEMLIMIT, and reports whether it did. Without one, a
// process whose heap is mostly a bounded cache grows to about twice it before
// the collector runs (GOGC 100).
func setMemoryLimit(limit int64) bool {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return false
	}
	debug.SetMemoryLimit(limit)
	return true
}
