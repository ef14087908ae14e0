package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
)

// ErrHTTP reports an edge answer other than the expected status.
var ErrHTTP = errors.New("peer: edge request failed")

// Size limits for what the edge sends us: a hostile or broken edge cannot make
// the peer allocate more.
const (
	maxPlaylistBytes = 1 << 20
	maxRecordBytes   = 1 << 20
	maxKeyBytes      = 1 << 10
	maxSegmentBytes  = 256 << 20
)

// primaryRetry is how long the peer stays on a fallback edge before it tries the
// first one again.
const primaryRetry = 10 * time.Second

// cdn fetches from the edge and counts every body byte it reads, split into
// media (segment) bytes and overhead (playlists, records, key, init sections),
// so the sum matches the edge's own bytes-served counter.
//
// With several edges it uses one at a time: a request that fails on the network or
// gets a 5xx moves every later request to the next edge and is retried there at
// once, so a dead edge costs one round trip, not a segment. After primaryRetry on a
// fallback the first edge is tried again (it may have recovered).
type cdn struct {
	bases           []string // edge base URLs, the preferred first; grown only by add
	basesMu         sync.RWMutex
	stream, token   string
	client          *http.Client
	clk             transport.Clock // stamps response headers for timed fetches
	media, overhead atomic.Int64
	cur             atomic.Int32 // index in bases now used
	left            atomic.Int64 // clock nanos when cur last moved off bases[0]
	switches        atomic.Int64 // moves to another edge
}

// url is the URL of /live/{stream}/{p} on edge base.
func (c *cdn) url(base, p string) string {
	u := base + "/live/" + c.stream + "/" + p
	if c.token != "" {
		u += "?token=" + url.QueryEscape(c.token)
	}
	return u
}

// pick returns the edge to use now.
func (c *cdn) pick() int {
	i := int(c.cur.Load())
	if i != 0 && c.clk.Now().UnixNano()-c.left.Load() > int64(primaryRetry) {
		c.cur.CompareAndSwap(int32(i), 0)
		return 0
	}
	return i
}

// maxEdges bounds the edges a viewer knows (its own and the welcome's).
const maxEdges = 16

// add appends the edges of urls not known yet (the tracker's welcome lists the
// operator's others), up to maxEdges: failover targets after the configured ones.
func (c *cdn) add(urls []string) {
	c.basesMu.Lock()
	defer c.basesMu.Unlock()
	for _, u := range urls {
		u = strings.TrimSuffix(u, "/")
		if len(c.bases) < maxEdges && !slices.Contains(c.bases, u) {
			c.bases = append(c.bases, u)
		}
	}
}

// base returns edge i's URL and how many edges there are.
func (c *cdn) base(i int) (string, int) {
	c.basesMu.RLock()
	defer c.basesMu.RUnlock()
	return c.bases[i%len(c.bases)], len(c.bases)
}

// failed moves off edge i (if no other request did already) and returns the edge
// to retry on.
func (c *cdn) failed(i int) int {
	_, n := c.base(i)
	next := (i + 1) % n
	if c.cur.CompareAndSwap(int32(i), int32(next)) {
		c.switches.Add(1)
		if i == 0 {
			c.left.Store(c.clk.Now().UnixNano())
		}
		return next
	}
	return int(c.cur.Load())
}

// get fetches /live/{stream}/{p} whole; media says which counter it feeds.
func (c *cdn) get(ctx context.Context, p string, limit int64, media bool) ([]byte, error) {
	return c.do(ctx, p, -1, 0, limit, media, nil)
}

// getMedia fetches n bytes at off of segment p (off < 0: the whole segment,
// at most n bytes) and sets *hdr to when the response headers arrived: the
// engine times the edge with it (edgeTimer).
func (c *cdn) getMedia(ctx context.Context, p string, off, n int64, hdr *time.Time) ([]byte, error) {
	if off < 0 {
		return c.do(ctx, p, -1, 0, n, true, hdr)
	}
	return c.do(ctx, p, off, n, n, true, hdr)
}

func (c *cdn) do(ctx context.Context, p string, off, n, limit int64, media bool, hdr *time.Time) ([]byte, error) {
	i := c.pick()
	base, edges := c.base(i)
	b, err := c.doOn(ctx, base, p, off, n, limit, media, hdr)
	if edges > 1 && ctx.Err() == nil && edgeDown(err) {
		base, _ = c.base(c.failed(i))
		b, err = c.doOn(ctx, base, p, off, n, limit, media, hdr)
	}
	return b, err
}

// edgeDown reports whether err says the edge itself failed (network, 5xx), not
// that the object is missing or the caller gave up.
func edgeDown(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errBody)
}

// statusError marks an unexpected HTTP status inside an ErrHTTP; it adds nothing
// to the message (the status is already in it).
type statusError struct{ code int }

func (e *statusError) Error() string { return "" }

// errBody marks answers whose body is wrong (too large, short range), which say
// nothing of the edge's health; it adds nothing to the message.
var errBody = errors.New("")

func (c *cdn) doOn(ctx context.Context, base, p string, off, n, limit int64, media bool, hdr *time.Time) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(base, p), nil)
	if err != nil {
		return nil, fmt.Errorf("peer: edge %s: %w", p, err)
	}
	want := http.StatusOK
	if off >= 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10))
		want = http.StatusPartialContent
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peer: edge %s: %w", p, err)
	}
	defer resp.Body.Close()
	if hdr != nil {
		*hdr = c.clk.Now()
	}
	if resp.StatusCode != want {
		// Not counted: the edge counts 200 and 206 bodies only.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %s: %s: %.200s%w", ErrHTTP, p, resp.Status, b, &statusError{resp.StatusCode})
	}
	var b []byte
	if size := resp.ContentLength; size >= 0 && size <= limit {
		// Known length: one exact buffer, no growing copies (segments are
		// large and come often; garbage is most of a peer's memory).
		b = make([]byte, size)
		var n int
		n, err = io.ReadFull(resp.Body, b)
		b = b[:n]
	} else {
		b, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	}
	c.count(int64(len(b)), media)
	if err != nil {
		return nil, fmt.Errorf("peer: edge %s: %w", p, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s: body larger than %d bytes%w", ErrHTTP, p, limit, errBody)
	}
	if off >= 0 && int64(len(b)) != n {
		return nil, fmt.Errorf("%w: %s: range gave %d bytes, want %d%w", ErrHTTP, p, len(b), n, errBody)
	}
	return b, nil
}

func (c *cdn) count(n int64, media bool) {
	if media {
		c.media.Add(n)
	} else {
		c.overhead.Add(n)
	}
}
