package edge

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/shoal-cdn/shoal/internal/token"
)

const (
	allowMethods  = "GET, HEAD, OPTIONS"
	allowHeaders  = "Range, Authorization"
	exposeHeaders = "Content-Length, Content-Range, ETag"
	immutableCC   = "public, max-age=31536000, immutable"
)

var (
	exposeHeadersV = []string{exposeHeaders}
	immutableCCV   = []string{immutableCC}
	acceptRangesV  = []string{"bytes"}
	xCacheHit      = []string{"HIT"}
	xCacheMiss     = []string{"MISS"}
	xCacheStale    = []string{"STALE"}
)

// Handler returns the edge's HTTP handler for GET, HEAD and OPTIONS /live/....
func (e *Edge) Handler() http.Handler { return http.HandlerFunc(e.serveHTTP) }

func (e *Edge) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w}
	defer func() {
		if rw.status == 0 {
			rw.status = 499 // the client went away before an answer
		}
		e.metrics.request(rw.status)
	}()
	h := rw.Header()
	// Shared, never-mutated value slices: no allocation per response.
	h["Access-Control-Allow-Origin"] = e.allowOrigin
	h["Access-Control-Expose-Headers"] = exposeHeadersV

	switch r.Method {
	case http.MethodOptions:
		// Preflights carry no credentials, so they are answered without a token.
		h.Set("Access-Control-Allow-Methods", allowMethods)
		h.Set("Access-Control-Allow-Headers", allowHeaders)
		h.Set("Access-Control-Max-Age", "86400")
		h.Set("Allow", allowMethods)
		rw.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		h.Set("Allow", allowMethods)
		fail(rw, http.StatusMethodNotAllowed, "edge: method not allowed")
		return
	}

	if r.URL.RawPath != "" { // escaped characters (%2F, ...) never name an object
		fail(rw, http.StatusBadRequest, ErrBadPath.Error()+": escaped characters in path")
		return
	}
	t, err := parsePath(r.URL.Path)
	if err != nil {
		fail(rw, http.StatusBadRequest, err.Error())
		return
	}

	if e.gone(rw, t.stream) {
		return
	}
	var queryToken string
	if r.URL.RawQuery != "" {
		queryToken = r.URL.Query().Get("token")
	}
	if len(e.cfg.PlaySecret) > 0 {
		if err := token.Verify(e.cfg.PlaySecret, t.stream, token.FromRequest(r), e.now()); err != nil {
			fail(rw, http.StatusForbidden, "edge: viewer token: "+err.Error())
			return
		}
	}

	obj, hit, err := e.lookup(r.Context(), t)
	if ctxErr := r.Context().Err(); err != nil && ctxErr != nil && errors.Is(err, ctxErr) {
		return // client gone; nothing to answer
	}
	e.metrics.cache(t.kind, hit)
	if err != nil {
		fail(rw, errorStatus(err), err.Error())
		return
	}
	if obj.status != http.StatusOK {
		fail(rw, http.StatusNotFound, ErrNotFound.Error()+": "+t.path)
		return
	}
	e.serveObject(rw, r, t, obj, hit, queryToken)
}

// serveObject answers from obj: conditional requests and Ranges via http.ServeContent.
func (e *Edge) serveObject(rw *responseWriter, r *http.Request, t target, obj *object, hit bool, queryToken string) {
	body, etag := obj.body, obj.etag
	if t.kind == kindPlaylist && queryToken != "" {
		// The cached body stays token-free; each viewer gets its own token in the URIs.
		body = rewritePlaylist(body, queryToken)
		etag = bodyETag(body)
	}
	h := rw.Header()
	h.Set("Content-Type", obj.contentType)
	h.Set("ETag", etag)
	if obj.ttl == 0 {
		h["Cache-Control"] = immutableCCV
	} else {
		h.Set("Cache-Control", cacheControl(obj.ttl))
	}
	if obj.stale {
		h["X-Cache"] = xCacheStale
	} else if hit {
		h["X-Cache"] = xCacheHit
	} else {
		h["X-Cache"] = xCacheMiss
	}
	if plainRequest(r) {
		// The common case (a player's GET of a whole object) skips ServeContent's parsing.
		h["Accept-Ranges"] = acceptRangesV
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if !obj.lastMod.IsZero() {
			h.Set("Last-Modified", obj.lastMod.UTC().Format(http.TimeFormat))
		}
		rw.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = rw.Write(body)
		}
	} else {
		http.ServeContent(rw, r, "", obj.lastMod, bytes.NewReader(body))
	}
	if rw.status == http.StatusOK || rw.status == http.StatusPartialContent {
		e.metrics.served(t.stream, rw.n)
	}
}

// plainRequest reports whether r has none of the headers http.ServeContent acts on.
func plainRequest(r *http.Request) bool {
	for _, k := range [...]string{"Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if _, ok := r.Header[k]; ok {
			return false
		}
	}
	return true
}

// cacheControl tells clients and downstream caches how long an object stays valid:
// immutables forever, playlists and keys for their own TTL (whole seconds, so a 0.5 s
// playlist is max-age=0 and revalidated with If-None-Match).
func cacheControl(ttl time.Duration) string {
	if ttl == 0 {
		return immutableCC
	}
	return "public, max-age=" + strconv.Itoa(int(ttl/time.Second))
}

// errorStatus maps a fetch error to the status answered to the client.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrUpstreamTimeout):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

func fail(w http.ResponseWriter, code int, reason string) {
	w.Header().Del("Content-Length")
	http.Error(w, reason, code)
}
