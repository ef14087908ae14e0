package origin

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// Cache-Control values of the /live/ responses.
const (
	cachePlaylist  = "public, max-age=1"
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheKey       = "public, max-age=60"
)

// object is a response body with its headers, copied out of a stream under its lock;
// the bytes themselves are immutable and shared.
type object struct {
	body        []byte
	contentType string
	cache       string
	etag        string
	mod         time.Time
}

// serveLive handles GET and HEAD /live/{stream}/...
func (o *Origin) serveLive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "origin: method "+r.Method+" not allowed")
		return
	}
	name, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/live/"), "/")
	if o.refuseTakenDown(w, name) {
		return
	}
	var obj *object
	if s := o.lookup(name); s != nil {
		var msg string
		if obj, msg = s.find(sub); obj == nil {
			httpError(w, http.StatusNotFound, msg)
			return
		}
	} else if t := o.acquireTitle(name); t != nil {
		defer t.readers.Add(-1)
		var code int
		var msg string
		if obj, code, msg = o.titleFind(t, sub); obj == nil {
			httpError(w, code, msg)
			return
		}
	} else {
		httpError(w, http.StatusNotFound, o.unknownMessage(name))
		return
	}
	h := w.Header()
	h.Set("Content-Type", obj.contentType)
	h.Set("Cache-Control", obj.cache)
	h.Set("Access-Control-Allow-Origin", "*")
	if obj.etag != "" {
		h.Set("ETag", obj.etag)
	}
	http.ServeContent(w, r, "", obj.mod, bytes.NewReader(obj.body))
}

// find resolves a path below /live/{stream}/.
func (s *stream) find(sub string) (*object, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.vod {
		return nil, "origin: title " + quote(s.name) + " is still being pushed (its playlists have not ended)"
	}
	if sub == "key" {
		return &object{body: s.pub, contentType: "text/plain; charset=utf-8", cache: cacheKey}, ""
	}
	rname, fname, nested := strings.Cut(sub, "/")
	if !nested {
		rn, ok := strings.CutSuffix(sub, ".m3u8")
		if !ok {
			return nil, "origin: not found"
		}
		if rn == "master" && s.master != nil {
			return &object{body: s.master, contentType: media.KindPlaylist.ContentType(), cache: cachePlaylist, etag: s.masterETag}, ""
		}
		r := s.renditions[rn]
		if r == nil || r.playlist == nil {
			return nil, "origin: no playlist " + quote(sub) + " in stream " + quote(s.name)
		}
		return &object{body: r.playlist, contentType: media.KindPlaylist.ContentType(), cache: cachePlaylist, etag: r.etag}, ""
	}
	r := s.renditions[rname]
	if r == nil {
		return nil, "origin: unknown rendition " + quote(rname)
	}
	epoch, seq, ext, init, err := media.ParseSegmentName(fname)
	if err != nil {
		return nil, "origin: not found: " + err.Error()
	}
	if init {
		in := r.inits[epoch]
		if in == nil {
			return nil, "origin: init section " + quote(fname) + " is not (or no longer) published"
		}
		return &object{body: in.data, contentType: media.KindInit.ContentType(), cache: cacheImmutable, etag: in.etag, mod: in.at}, ""
	}
	seg := r.byBase[media.SegmentName(epoch, seq, "")]
	if seg == nil {
		return nil, "origin: segment " + quote(fname) + " is not (or no longer) published"
	}
	switch ext {
	case ".rec":
		return &object{body: seg.rec, contentType: "application/octet-stream", cache: cacheImmutable, etag: etagOfRec(seg), mod: seg.at}, ""
	case seg.kind.Ext():
		return &object{body: seg.data, contentType: seg.kind.ContentType(), cache: cacheImmutable, etag: seg.etag, mod: seg.at}, ""
	}
	return nil, "origin: segment " + quote(fname) + " has another extension"
}

// etagOfRec derives a record's ETag from its segment's: records are deterministic
// per segment and key.
func etagOfRec(seg *segment) string {
	return strings.TrimSuffix(seg.etag, `"`) + `-rec"`
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
