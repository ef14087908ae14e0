package edge

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/takedown"
)

// Takedown stops (down) or resumes serving a stream: while down, every request for it
// answers 410 Gone, and what the cache held of it is dropped at once, so not even the
// immutable segments of its live window stay reachable. An edge in another process
// than the operator's API learns it from the origin's 410 instead, within a playlist
// lifetime (docs/admin.md), or at once through TakedownHandler.
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

// TakedownHandler serves POST (take down) and DELETE (restore) /takedown/{stream}
// behind Authorization: Bearer token, so the operator's API can purge an edge in
// another process at once (shoal tracker --takedown-edges). An empty token refuses
// every call.
func (e *Edge) TakedownHandler(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/takedown/")
		switch {
		case !media.ValidName(name):
			fail(w, http.StatusBadRequest, "edge: stream name must match [A-Za-z0-9_-]{1,64}")
			return
		case r.Method != http.MethodPost && r.Method != http.MethodDelete:
			w.Header().Set("Allow", "POST, DELETE")
			fail(w, http.StatusMethodNotAllowed, "edge: POST takes a stream down, DELETE restores it")
			return
		case token == "":
			fail(w, http.StatusForbidden, "edge: takedown disabled: start the edge with --admin-token")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shoal edge"`)
			fail(w, http.StatusUnauthorized, "edge: takedown needs Authorization: Bearer <admin token>")
			return
		}
		if err := e.Takedown(name, r.Method == http.MethodPost); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, takedown.ErrFull) {
				code = http.StatusInsufficientStorage
			}
			fail(w, code, "edge: takedown: "+err.Error())
			return
		}
		e.cfg.Logger.Info("edge: stream taken down by the operator", "stream", name, "down", r.Method == http.MethodPost)
		w.WriteHeader(http.StatusNoContent)
	})
}
