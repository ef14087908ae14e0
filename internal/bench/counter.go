package bench

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// isMedia reports whether an edge path is a media segment (.ts/.m4s): the
// bytes offload is about. Playlists, records, keys and init sections are
// overhead.
func isMedia(path string) bool {
	return (strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".m4s")) && !strings.HasSuffix(path, "-init.mp4")
}

// edgeCounter wraps the edge's handler and counts the body bytes it writes
// for 200 and 206 answers, split into media and overhead, and per segment
// path. Its total is checked against the edge's own counter.
type edgeCounter struct {
	h               http.Handler
	media, overhead atomic.Int64

	mu     sync.Mutex
	perSeg map[string]int64 // media path → bytes served
}

func newEdgeCounter(h http.Handler) *edgeCounter {
	return &edgeCounter{h: h, perSeg: make(map[string]int64)}
}

func (c *edgeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{ResponseWriter: w}
	c.h.ServeHTTP(cw, r)
	if cw.status != http.StatusOK && cw.status != http.StatusPartialContent {
		return
	}
	if !isMedia(r.URL.Path) {
		c.overhead.Add(cw.n)
		return
	}
	c.media.Add(cw.n)
	c.mu.Lock()
	c.perSeg[r.URL.Path] += cw.n
	c.mu.Unlock()
}

// segments returns a copy of the per-segment media bytes.
func (c *edgeCounter) segments() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.perSeg))
	for k, v := range c.perSeg {
		m[k] = v
	}
	return m
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientCounter is one viewer's HTTP transport to the edge: it counts the
// body bytes the viewer read, media and overhead, from the client side.
type clientCounter struct {
	base            http.RoundTripper
	shape           *shaper // nil: no emulated access link
	media, overhead atomic.Int64
}

func (c *clientCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if !c.shape.firstByte(r.Context()) {
		return nil, r.Context().Err()
	}
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return resp, nil // the edge does not count these either
	}
	ctr := &c.overhead
	if isMedia(r.URL.Path) {
		ctr = &c.media
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: ctr, shape: c.shape}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n     *atomic.Int64
	shape *shaper
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	b.shape.take(n)
	return n, err
}
