package edge

import (
	"net/http"
	"strings"
)

// Takedown stops (down) or resumes serving a stream: while down, every request for it
// answers 410 Gone, and what the cache held of it is dropped at once, so not even the
// immutable segments of its live window stay reachable. An edge in another process
// than the operator's API learns it from the origin's 410 instead, within a playlist
// lifetime (docs/admin.md).
func (e *Edge) Takedown(stream string, down bool) error {
	if err := e.down.Set(stream, down); err != nil {
		return err
	}
	if down {
		prefix := "/live/" + stream + "/"
		for k := range e.cache.Keys() {
			if strings.HasPrefix(k, prefix) {
				e.cache.Invalidate(k)
			}
		}
	}
	return nil
}

// gone answers 410 for a taken-down stream and reports whether it did.
func (e *Edge) gone(w http.ResponseWriter, stream string) bool {
	if !e.down.Down(stream) {
		return false
	}
	fail(w, http.StatusGone, "edge: stream "+stream+" was taken down by the operator")
	return true
}
