package edge

import (
	"io"
	"net/http"
	"sync"
)

// responseWriter records the status and counts the body bytes the client's connection
// accepted (what Write returned), so bytes-served figures are exact, also for Range
// responses.
type responseWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code >= 400 {
			// error responses (including http.ServeContent's 416) are never cacheable
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Del("ETag")
			h.Del("Last-Modified")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom serves io.Copy (http.ServeContent) with a pooled buffer instead of a fresh
// 32 KiB one per response, still counting through Write.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writeOnly{w}, r, *bp)
}

// writeOnly hides ReadFrom so io.CopyBuffer does not recurse into it.
type writeOnly struct{ w *responseWriter }

func (o writeOnly) Write(b []byte) (int, error) { return o.w.Write(b) }
