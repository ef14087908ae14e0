package edge

import (
	"bytes"
	"path"
	"strings"
)

// prefetch warms the cache with the newest Config.Prefetch segments a fresh live media
// playlist lists, and their records, in the background (coalesced with any request
// for them). A viewer a little behind live then finds the segments it will ask for
// next already here, including while the origin is down: stale-if-error keeps the
// playlist, and this keeps what it lists. Absolute and query-carrying URIs are not
// the origin's own and are skipped.
func (e *Edge) prefetch(t target, body []byte) {
	if e.cfg.Prefetch <= 0 || t.kind != kindPlaylist || !isLive(body) {
		return
	}
	dir := path.Dir(t.path)
	for _, u := range newestURIs(body, e.cfg.Prefetch) {
		if strings.Contains(u, "://") || strings.ContainsAny(u, "?#") || strings.HasPrefix(u, "/") {
			continue
		}
		p := path.Join(dir, u)
		for _, q := range [...]string{p, strings.TrimSuffix(p, path.Ext(p)) + ".rec"} {
			pt, err := parsePath(q)
			if err != nil || !pt.kind.immutable() {
				continue
			}
			if _, ok := e.cache.GetIfPresent(q); ok {
				continue
			}
			e.flights.DoChan(q, func() (any, error) { return e.fill(pt, nil) })
		}
	}
}

// newestURIs returns the last n URI lines of a media playlist.
func newestURIs(body []byte, n int) []string {
	var out []string
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out = append(out, string(line))
	}
	return out[max(0, len(out)-n):]
}
