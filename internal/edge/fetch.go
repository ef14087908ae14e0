package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// lookup returns the object for t from the cache, or fetches it from the origin.
// Concurrent misses for one path share a single origin fetch (singleflight). The fetch
// runs on the edge's own context with UpstreamTimeout, never on a request's context, so
// a client that goes away cannot fail the fetch for the others waiting on it; a waiting
// request only stops waiting when its own context ends.
func (e *Edge) lookup(ctx context.Context, t target) (obj *object, hit bool, err error) {
	cached, ok := e.cache.GetIfPresent(t.path)
	if now := e.now(); ok && cached.fresh(now) {
		if cached.refreshDue(now) {
			// Refresh ahead: a playlist in its last fifth of life is refetched in the
			// background while this and later requests are still answered from the cache,
			// so under steady load no request waits for a playlist.
			e.flights.DoChan(t.path, func() (any, error) { return e.fill(t, cached) })
		}
		return cached, true, nil
	}
	ch := e.flights.DoChan(t.path, func() (any, error) { return e.fill(t, nil) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, false, res.Err
		}
		return res.Val.(*object), false, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// fill is the body of one coalesced flight: fetch and publish in the cache. replacing is
// the entry a refresh-ahead replaces (nil for a miss).
func (e *Edge) fill(t target, replacing *object) (*object, error) {
	// A request that missed the cache just before the previous flight for this path
	// stored its result starts a new flight; this second look keeps it off the origin.
	prev, _ := e.cache.GetIfPresent(t.path)
	if prev != nil && prev != replacing && prev.fresh(e.now()) {
		return prev, nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.UpstreamTimeout)
	defer cancel()
	o, err := e.fetch(ctx, t)
	if now := e.now(); staleOK(prev, now, err, o) {
		e.cfg.Logger.Warn("edge: origin failing, serving stale", "path", t.path, "err", err,
			"stale_for", prev.staleUntil.Sub(now).Round(time.Millisecond))
		s := extendStale(prev, now)
		e.cache.Set(t.path, s)
		e.metrics.staleServed(t.kind)
		return s, nil
	}
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, ErrNotFound) {
			level = slog.LevelDebug // clients asking for what is gone is no operator's concern
		}
		e.cfg.Logger.Log(ctx, level, "edge: origin fetch failed", "path", t.path, "err", err)
		return nil, err
	}
	if int64(weigh(t.path, o)) <= e.cfg.CacheBytes {
		e.cache.Set(t.path, o)
	}
	if o.status == http.StatusOK {
		e.prefetch(t, o.body)
	}
	return o, nil
}

// fetch performs one origin request for t, bounded in time (ctx), size and concurrency.
func (e *Edge) fetch(ctx context.Context, t target) (*object, error) {
	select {
	case e.fetchSlots <- struct{}{}:
		defer func() { <-e.fetchSlots }()
	case <-ctx.Done():
		return nil, upstreamError(t, fmt.Errorf("waiting for a fetch slot: %w", ctx.Err()))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.origin+t.path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUpstream, t.path, err)
	}
	// identity: the cached bytes are what the origin stores, so ETags and Ranges hold.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "shoal-edge")
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		e.metrics.originFetch(t, false)
		return nil, upstreamError(t, err)
	}
	defer resp.Body.Close()
	e.metrics.originFetch(t, resp.StatusCode == http.StatusOK)

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		if t.kind.immutable() {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, t.path)
		}
		return &object{status: resp.StatusCode, ttl: notFoundTTL, expires: e.now().Add(notFoundTTL)}, nil
	default:
		return nil, fmt.Errorf("%w %d for %s", ErrUpstreamStatus, resp.StatusCode, t.path)
	}

	limit := e.cfg.MaxObjectBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, t.path, resp.ContentLength, limit)
	}
	body, err := readBody(resp.Body, resp.ContentLength, limit)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s exceeds %d bytes", ErrTooLarge, t.path, limit)
	} else if err != nil {
		return nil, upstreamError(t, fmt.Errorf("reading body: %w", err))
	}
	o := &object{
		status:      http.StatusOK,
		body:        body,
		etag:        resp.Header.Get("ETag"),
		contentType: resp.Header.Get("Content-Type"),
	}
	if o.etag == "" {
		o.etag = bodyETag(body)
	}
	if o.contentType == "" || t.kind == kindPlaylist { // players want the HLS type, whatever the origin says
		o.contentType = contentTypeFor(t.path, t.kind)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		o.lastMod = lm
	}
	switch t.kind {
	case kindPlaylist:
		o.ttl = playlistTTL(body, e.cfg.PlaylistTTLFraction)
	case kindKey:
		o.ttl = keyTTL
	}
	if o.ttl > 0 {
		o.expires = e.now().Add(o.ttl)
		o.staleUntil = o.expires.Add(e.staleWindow(t, body))
		o.live = t.kind == kindPlaylist && isLive(body)
	}
	return o, nil
}

// readBody reads a response body of at most limit bytes into a slice exactly its size:
// the cache keeps the slice for the entry's life and counts its length, so spare
// capacity would be memory outside the cache's bound. bytes.Buffer.ReadFrom leaves
// 30–40% spare on a chunked body of demo size (375 KB in a 512 KiB buffer), and doubles
// a buffer grown to Content-Length when its size class leaves under 512 bytes free
// (any multiple of 8 KiB), just to read EOF. contentLength < 0: unknown.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength >= 0 {
		// net/http's client ends the body at Content-Length, and a short one is an error.
		body := make([]byte, contentLength)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	if b := buf.Bytes(); cap(b) == len(b) {
		return b, nil
	}
	return bytes.Clone(buf.Bytes()), nil
}

// upstreamError classifies a transport error: a deadline is ErrUpstreamTimeout (504),
// anything else ErrUpstream (502).
func upstreamError(t target, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %s: %w", ErrUpstreamTimeout, t.path, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUpstream, t.path, err)
}
