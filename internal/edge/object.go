package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/maypok86/otter/v2"
)

// object is one cached origin response. Its fields never change once it is published
// in the cache, so handlers share it without locks.
type object struct {
	status      int // http.StatusOK, or the origin's 404 or 410 for a negative entry
	body        []byte
	etag        string
	contentType string
	lastMod     time.Time     // zero: unknown
	ttl         time.Duration // 0: immutable
	expires     time.Time     // zero: never
	staleUntil  time.Time     // served stale on origin failure until then (stale.go); zero: never
	live        bool          // a media playlist without #EXT-X-ENDLIST
	stale       bool          // a stand-in served because the origin failed
}

func (o *object) fresh(now time.Time) bool {
	return o.expires.IsZero() || now.Before(o.expires)
}

// refreshDue reports whether a mortal object is in the last fifth of its lifetime.
func (o *object) refreshDue(now time.Time) bool {
	return o.ttl > 0 && o.status == http.StatusOK && !now.Before(o.expires.Add(-o.ttl/5))
}

// objectOverhead approximates the memory of an entry beyond its body and strings.
const objectOverhead = 256

// weigh counts a body's capacity, not its length: what the entry keeps alive.
func weigh(key string, o *object) uint32 {
	w := int64(len(key)+cap(o.body)+len(o.etag)+len(o.contentType)) + objectOverhead
	return uint32(min(w, math.MaxUint32))
}

// newCache builds the byte-bounded object cache. Maintenance (eviction) runs on the
// writing goroutine rather than on a spawned one, so that after a write returns the
// cache is back under its bound.
func newCache(maxBytes int64) (*otter.Cache[string, *object], error) {
	return otter.New(&otter.Options[string, *object]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       weigh,
		Executor:      func(fn func()) { fn() },
	})
}

// bodyETag derives a strong ETag from the body when the origin sent none.
func bodyETag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

var (
	targetDurationTag = []byte("#EXT-X-TARGETDURATION:")
	vodTypeTag        = []byte("#EXT-X-PLAYLIST-TYPE:VOD")
)

// playlistTTL is frac × EXT-X-TARGETDURATION clamped to [minPlaylistTTL, maxPlaylistTTL],
// or unknownPlaylistTTL when the playlist has no target duration. A VOD playlist never
// changes while its title exists: vodPlaylistTTL, which bounds how long a taken-down
// title stays listed here.
func playlistTTL(body []byte, frac float64) time.Duration {
	if bytes.Contains(body, vodTypeTag) {
		return vodPlaylistTTL
	}
	d, ok := targetDuration(body)
	if !ok {
		return unknownPlaylistTTL
	}
	return min(max(time.Duration(frac*float64(d)), minPlaylistTTL), maxPlaylistTTL)
}

// targetDuration is a playlist's EXT-X-TARGETDURATION (at most an hour); false if it
// has none or it does not parse.
func targetDuration(body []byte) (time.Duration, bool) {
	for line := range bytes.Lines(body) {
		v, ok := bytes.CutPrefix(bytes.TrimSpace(line), targetDurationTag)
		if !ok {
			continue
		}
		secs, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		if err != nil || secs <= 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
			return 0, false
		}
		return time.Duration(min(secs, 3600) * float64(time.Second)), true
	}
	return 0, false
}
