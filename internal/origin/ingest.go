package origin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/token"
)

// rejection is an ingest request refused with a status, a metric reason and a message
// for the encoder.
type rejection struct {
	code   int
	reason string
	msg    string
}

func (e *rejection) Error() string { return e.msg }

func reject(code int, reason, format string, args ...any) *rejection {
	return &rejection{code: code, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// serveIngest handles PUT, POST and DELETE /ingest/{stream}/{file...}. Nothing is
// stored unless the whole request is valid.
func (o *Origin) serveIngest(w http.ResponseWriter, r *http.Request) {
	if err := o.ingest(w, r); err != nil {
		var rj *rejection
		if !errors.As(err, &rj) {
			rj = reject(http.StatusInternalServerError, "internal", "%s", err)
		}
		o.m.rejected.WithLabelValues(rj.reason).Inc()
		o.cfg.Logger.Info("origin: ingest rejected", "method", r.Method, "path", r.URL.Path,
			"status", rj.code, "reason", rj.msg, "remote", r.RemoteAddr)
		if rj.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "PUT, POST, DELETE")
		}
		httpError(w, rj.code, rj.msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *Origin) ingest(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, "/ingest/")
	name, file, _ := strings.Cut(rest, "/")
	if !media.ValidName(name) {
		return reject(http.StatusBadRequest, reasonName, "origin: stream name %q must match [A-Za-z0-9_-]{1,64}", name)
	}
	if o.down.Down(name) {
		return reject(http.StatusGone, reasonTakenDown, "origin: stream %q was taken down by the operator", name)
	}
	kind, err := media.CheckFilePath(file)
	if err != nil {
		return reject(http.StatusBadRequest, reasonName, "origin: ingest %q: %s", file, err)
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost && r.Method != http.MethodDelete {
		return reject(http.StatusMethodNotAllowed, reasonMethod, "origin: method %s not allowed on ingest", r.Method)
	}
	if err := o.authorize(r, name); err != nil {
		return err
	}
	if o.reserved(name) {
		return reject(http.StatusConflict, reasonReserved, "origin: stream %q is published by the origin itself (demo or pull relay)", name)
	}
	if o.hasTitle(name) {
		return reject(http.StatusConflict, reasonTitle, "origin: %q is a published title; take it down (DELETE /titles/%s) or push under another name", name, name)
	}
	if r.Method == http.MethodDelete {
		s := o.lookup(name)
		if s == nil {
			return reject(http.StatusNotFound, reasonName, "origin: unknown stream %q", name)
		}
		s.mu.Lock()
		s.dropFile(file)
		s.mu.Unlock()
		return nil
	}

	limit := o.cfg.MaxSegmentBytes
	if kind == media.KindPlaylist {
		limit = o.cfg.MaxPlaylistBytes
	}
	if r.ContentLength > limit {
		return reject(http.StatusRequestEntityTooLarge, reasonSize, "origin: body of %d bytes exceeds the limit of %d", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return reject(http.StatusRequestEntityTooLarge, reasonSize, "origin: body exceeds the limit of %d bytes", limit)
		}
		return reject(http.StatusBadRequest, reasonBody, "origin: read body: %s", err)
	}
	now := o.cfg.Now()

	switch kind {
	case media.KindPlaylist:
		err = o.ingestPlaylist(name, file, body)
	default:
		if err := media.Sniff(kind, body); err != nil {
			return reject(http.StatusBadRequest, reasonSegment, "origin: %s: %s", file, err)
		}
		f := &pendingFile{data: body, sum: sha256.Sum256(body), kind: kind, at: now}
		err = o.withStream(name, sourceIngest, func(s *stream) error {
			s.putFile(file, f, now)
			return s.settle(now)
		})
	}
	if err != nil {
		var rj *rejection
		switch {
		case errors.As(err, &rj):
		case errors.Is(err, ErrStreamLimit):
			rj = reject(http.StatusServiceUnavailable, reasonLimit, "%s", err)
		case errors.Is(err, ErrRenditionLimit):
			rj = reject(http.StatusBadRequest, reasonRendition, "%s (%d)", err, o.cfg.MaxRenditions)
		default:
			return err
		}
		return rj
	}
	o.m.ingestBytes.WithLabelValues(name).Add(float64(len(body)))
	return nil
}

// ingestPlaylist validates and applies a media or multivariant playlist.
func (o *Origin) ingestPlaylist(name, file string, body []byte) error {
	pl, err := media.Parse(body)
	if err != nil {
		return reject(http.StatusBadRequest, reasonPlaylist, "origin: %s: %s", file, err)
	}
	now := o.cfg.Now()
	switch p := pl.(type) {
	case *playlist.Media:
		rname, err := media.RenditionName(file)
		if err != nil {
			return reject(http.StatusBadRequest, reasonName, "origin: %s", err)
		}
		sp, err := fromIngest(file, p, body)
		if err != nil {
			return reject(http.StatusBadRequest, reasonPlaylist, "origin: %s: %s", file, err)
		}
		return o.withStream(name, sourceIngest, func(s *stream) error {
			if err := s.setMode(sp.vod, now); err != nil {
				return err
			}
			if err := s.applyPlaylist(rname, sp, now); err != nil {
				return err
			}
			return s.settle(now)
		})
	case *playlist.Multivariant:
		master, err := rewriteIngestMaster(file, p)
		if err != nil {
			return reject(http.StatusBadRequest, reasonPlaylist, "origin: %s: %s", file, err)
		}
		return o.withStream(name, sourceIngest, func(s *stream) error {
			s.setMaster(master, now)
			s.masterRends = masterRenditions(master)
			return s.settle(now)
		})
	}
	return reject(http.StatusBadRequest, reasonPlaylist, "origin: %s: unknown playlist type", file)
}

// fromIngest resolves an ingested media playlist's URIs to pending-file keys.
func fromIngest(file string, p *playlist.Media, body []byte) (*sourcePlaylist, error) {
	sp := &sourcePlaylist{
		msn: int64(p.MediaSequence), target: p.TargetDuration, ended: p.Endlist,
		sum: sha256.Sum256(body), entries: make([]entry, 0, len(p.Segments)),
		vod: p.PlaylistType != nil && *p.PlaylistType == playlist.MediaPlaylistTypeVOD,
	}
	var mapKey string
	if p.Map != nil {
		k, kind, err := media.ResolveRelative(file, p.Map.URI)
		if err != nil {
			return nil, fmt.Errorf("EXT-X-MAP: %w", err)
		}
		if kind != media.KindInit && kind != media.KindFMP4 {
			return nil, fmt.Errorf("EXT-X-MAP %q is not an .mp4 or .m4s file", p.Map.URI)
		}
		mapKey = k
	}
	for _, seg := range p.Segments {
		k, kind, err := media.ResolveRelative(file, seg.URI)
		if err != nil {
			return nil, err
		}
		switch {
		case kind == media.KindTS && mapKey == "":
		case kind == media.KindFMP4 && mapKey != "":
		default:
			return nil, fmt.Errorf("segment %q: playlists list .ts segments without EXT-X-MAP or .m4s segments with it", seg.URI)
		}
		e := entry{key: k, dur: seg.Duration, mapKey: mapKey, kind: kind, disc: seg.Discontinuity}
		if seg.DateTime != nil {
			e.pdt = *seg.DateTime
		}
		sp.entries = append(sp.entries, e)
	}
	return sp, nil
}

// rewriteIngestMaster renders an ingested multivariant playlist with variant URIs
// pointing at our published rendition playlists.
func rewriteIngestMaster(file string, p *playlist.Multivariant) ([]byte, error) {
	var bad error
	out := media.RewriteMultivariant(p, func(uri string) string {
		k, kind, err := media.ResolveRelative(file, uri)
		if err == nil && kind != media.KindPlaylist {
			err = fmt.Errorf("variant %q is not a .m3u8 playlist", uri)
		}
		var rn string
		if err == nil {
			rn, err = media.RenditionName(k)
		}
		if err != nil {
			bad = err
			return ""
		}
		return rn + ".m3u8"
	})
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// authorize checks the publish token, if the origin requires one.
func (o *Origin) authorize(r *http.Request, stream string) error {
	if o.cfg.PublishToken == "" && len(o.cfg.PublishSecret) == 0 {
		return nil
	}
	tok := token.FromRequest(r)
	if tok == "" {
		return reject(http.StatusUnauthorized, reasonAuth, "origin: publish token required")
	}
	if o.cfg.PublishToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(o.cfg.PublishToken)) == 1 {
		return nil
	}
	if len(o.cfg.PublishSecret) > 0 {
		err := token.Verify(o.cfg.PublishSecret, stream, tok, o.cfg.Now())
		if err == nil {
			return nil
		}
		return reject(http.StatusForbidden, reasonAuth, "origin: publish token refused: %s", err)
	}
	return reject(http.StatusForbidden, reasonAuth, "origin: wrong publish token")
}

// httpError writes a plain-text error that no cache keeps.
func httpError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
