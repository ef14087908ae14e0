package edge

import (
	"bytes"
	"errors"
	"net/http"
	"time"
)

// Stale-if-error (RFC 5861, applied by the edge itself): when the origin cannot answer
// (unreachable, timeout, 5xx), a playlist or key that expired at most its stale window
// ago is served as it was, so players keep playing what they have buffered and
// reload a playlist that simply does not grow, instead of counting load errors while an
// origin restarts. A live media playlist (no #EXT-X-ENDLIST) answered 404 is treated the
// same: an origin restarted without state does not know an ingested stream until its
// encoder pushes again. 410 (takedown) and an ended playlist's 404 are never hidden.
// The window is bounded (Config.StaleIfError), so an origin that stays down turns into
// errors within a few target durations.

// DefaultStaleIfErrorTargets is the default stale window of a media playlist in target
// durations: about what a player keeps buffered (hls.js starts three behind live).
const DefaultStaleIfErrorTargets = 3

// defaultStaleIfError is the default stale window of objects without a target duration
// (multivariant playlists, keys): three 2 s targets.
const defaultStaleIfError = 6 * time.Second

var endlistTag = []byte("#EXT-X-ENDLIST")

// staleWindow is how long past its expiry o (a mortal object from body) may be served
// stale: Config.StaleIfError if set (negative: never), else DefaultStaleIfErrorTargets
// target durations.
func (e *Edge) staleWindow(t target, body []byte) time.Duration {
	if e.cfg.StaleIfError != 0 {
		return max(e.cfg.StaleIfError, 0)
	}
	if t.kind == kindPlaylist {
		if d, ok := targetDuration(body); ok {
			return DefaultStaleIfErrorTargets * d
		}
	}
	return defaultStaleIfError
}

// staleOK reports whether prev may stand in for the origin's answer: a successful
// mortal object still within its stale window, and an origin failure (err) or a
// forgotten live playlist (a 404 object).
func staleOK(prev *object, now time.Time, err error, got *object) bool {
	if prev == nil || prev.status != http.StatusOK || prev.ttl == 0 || !now.Before(prev.staleUntil) {
		return false
	}
	if err != nil {
		return errors.Is(err, ErrUpstream) || errors.Is(err, ErrUpstreamTimeout) || errors.Is(err, ErrUpstreamStatus)
	}
	return got != nil && got.status == http.StatusNotFound && prev.live
}

// extendStale returns a copy of prev served stale for one more lifetime, never past its
// stale window: requests meanwhile are answered at once rather than each waiting for
// the failing origin.
func extendStale(prev *object, now time.Time) *object {
	o := *prev
	o.stale = true
	o.expires = now.Add(prev.ttl)
	if o.expires.After(prev.staleUntil) {
		o.expires = prev.staleUntil
	}
	return &o
}

// isLive reports whether a media playlist may still grow (no #EXT-X-ENDLIST).
func isLive(body []byte) bool {
	return bytes.Contains(body, targetDurationTag) && !bytes.Contains(body, endlistTag)
}
