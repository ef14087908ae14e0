package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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

// cdn fetches from the edge and counts every body byte it reads, split into
// media (segment) bytes and overhead (playlists, records, key, init sections),
// so the sum matches the edge's own bytes-served counter.
type cdn struct {
	base, stream, token string
	client              *http.Client
	clk                 transport.Clock // stamps response headers for timed fetches
	media, overhead     atomic.Int64
}

// url is the edge URL of /live/{stream}/{p}.
func (c *cdn) url(p string) string {
	u := c.base + "/live/" + c.stream + "/" + p
	if c.token != "" {
		u += "?token=" + url.QueryEscape(c.token)
	}
	return u
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(p), nil)
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
		return nil, fmt.Errorf("%w: %s: %s: %.200s", ErrHTTP, p, resp.Status, b)
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
		return nil, fmt.Errorf("%w: %s: body larger than %d bytes", ErrHTTP, p, limit)
	}
	if off >= 0 && int64(len(b)) != n {
		return nil, fmt.Errorf("%w: %s: range gave %d bytes, want %d", ErrHTTP, p, len(b), n)
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
