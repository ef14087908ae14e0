package origin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// A stream becomes a title in one of two ways (docs/vod.md): a VOD push
// (#EXT-X-PLAYLIST-TYPE:VOD) is recorded unseen and becomes a title when all its
// playlists have ended; a live stream, with KeepEnded, is recorded while it is live
// and becomes its replay when it ends.

// setMode decides, at a stream's first media playlist, whether it is a VOD push, and
// refuses a playlist of the other kind later.
func (s *stream) setMode(vod bool, now time.Time) error {
	if len(s.renditions) == 0 && s.rec == nil {
		switch {
		case vod:
			s.vod = true
			s.rec = s.o.newRecorder(s.name, titleVOD, now)
		case s.cfg().KeepEnded > 0 && s.source == sourceIngest:
			s.rec = s.o.newRecorder(s.name, titleReplay, now)
		}
		return nil
	}
	switch {
	case vod && !s.vod:
		return reject(http.StatusConflict, reasonTitle, "origin: %q is a live stream; a VOD push (#EXT-X-PLAYLIST-TYPE:VOD) needs another name", s.name)
	case !vod && s.vod:
		return reject(http.StatusConflict, reasonTitle, "origin: %q is a VOD push in progress; every playlist of it must be #EXT-X-PLAYLIST-TYPE:VOD", s.name)
	}
	return nil
}

// vodSettle is how long a VOD push whose playlists have all ended waits for a master
// playlist (ffmpeg PUTs it last) before it becomes a title without one.
const vodSettle = time.Second

func (s *stream) vodSettle() time.Duration { return min(vodSettle, s.cfg().QuietTimeout/2) }

// settle runs after each accepted ingest request of a VOD push: a push whose recording
// failed is dropped (507), a complete one with its master becomes a title. The reaper
// publishes the others after vodSettle (stream.expire).
func (s *stream) settle(now time.Time) error {
	if !s.vod || s.removed {
		return nil
	}
	if err := s.rec.err; err != nil {
		s.o.dropStream(s)
		return reject(http.StatusInsufficientStorage, reasonStore, "origin: VOD push %q dropped: %s", s.name, err)
	}
	if !s.vodComplete(now) {
		return nil
	}
	err := s.commitVOD()
	s.o.dropStream(s)
	if err != nil {
		return reject(http.StatusConflict, reasonTitle, "origin: VOD push %q not published: %s", s.name, err)
	}
	return nil
}

func (s *stream) commitVOD() error {
	s.rec.master = s.master
	t, err := s.rec.commit(time.Time{})
	if err != nil {
		s.o.cfg.Logger.Error("origin: VOD push not published", "title", s.name, "err", err)
		return err
	}
	s.rec = nil
	s.o.cfg.Logger.Info("origin: title published", "title", t.name, "kind", t.kind, "renditions", len(t.rends),
		"duration", t.dur, "bytes", t.bytes)
	return nil
}

// vodComplete: every rendition has ended and published everything it listed, and
// either a master playlist names them or none came for vodSettle.
func (s *stream) vodComplete(now time.Time) bool {
	if len(s.renditions) == 0 {
		return false
	}
	for _, r := range s.renditions {
		if !r.ended {
			return false
		}
	}
	if s.master == nil {
		return now.Sub(s.lastActivity) >= s.vodSettle()
	}
	for _, rn := range s.masterRends {
		if s.renditions[rn] == nil {
			return false
		}
	}
	return true
}

// commitReplay turns an ended live stream into its replay, kept for KeepEnded. It
// reports false if the recording failed (the stream then lingers and goes as usual).
func (s *stream) commitReplay(now time.Time) bool {
	if s.rec.err != nil {
		return false
	}
	s.rec.master = s.master
	t, err := s.rec.commit(now.Add(s.cfg().KeepEnded).UTC())
	if err != nil {
		s.o.cfg.Logger.Error("origin: replay not kept", "stream", s.name, "err", err)
		s.rec.discard()
		s.rec = nil
		return false
	}
	s.rec = nil
	s.o.cfg.Logger.Info("origin: ended stream kept as a replay", "title", t.name, "until", t.expires,
		"duration", t.dur, "bytes", t.bytes)
	return true
}

// dropStream removes s, under s.mu (lock order: s.mu, then o.mu).
func (o *Origin) dropStream(s *stream) {
	s.removed = true
	s.clearPending()
	if s.rec != nil {
		s.rec.discard()
		s.rec = nil
	}
	o.mu.Lock()
	if o.streams[s.name] == s {
		delete(o.streams, s.name)
	}
	o.m.streams.Set(float64(len(o.streams)))
	o.mu.Unlock()
	o.m.forget(s.name)
}

// unknownMessage is the 404 reason for a name that is neither a stream nor a title.
func (o *Origin) unknownMessage(name string) string {
	o.titleMu.RLock()
	why := o.gone[name]
	o.titleMu.RUnlock()
	if why != "" {
		return "origin: title " + quote(name) + " is gone: " + why
	}
	return "origin: unknown stream " + quote(name)
}

// serveTitles handles GET /titles (the catalogue) and DELETE /titles/{name}
// (takedown), behind the publish token (docs/vod.md, "Takedown").
func (o *Origin) serveTitles(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/titles"), "/")
	fail := func(rj *rejection) {
		o.m.rejected.WithLabelValues(rj.reason).Inc()
		httpError(w, rj.code, rj.msg)
	}
	switch {
	case name == "" && r.Method == http.MethodGet:
		if err := o.authorize(r, titlesAll); err != nil {
			fail(err.(*rejection))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"titles": o.titleList(), "store_bytes": o.store.usedBytes()})
	case name != "" && r.Method == http.MethodDelete:
		if !media.ValidName(name) {
			fail(reject(http.StatusBadRequest, reasonName, "origin: title name %q must match [A-Za-z0-9_-]{1,64}", name))
			return
		}
		if err := o.authorize(r, name); err != nil {
			fail(err.(*rejection))
			return
		}
		if o.discardPush(name) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if err := o.takedown(name); err != nil {
			fail(reject(http.StatusNotFound, reasonName, "origin: takedown %q: %s", name, err))
			return
		}
		o.cfg.Logger.Info("origin: title taken down", "title", name, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET /titles, DELETE /titles/{name}")
		fail(reject(http.StatusMethodNotAllowed, reasonMethod, "origin: %s %s: want GET /titles or DELETE /titles/{name}", r.Method, r.URL.Path))
	}
}

// titlesAll is the stream name a --publish-secret token must be minted for to list
// the catalogue.
const titlesAll = "*"

// discardPush drops a VOD push in progress of that name (a takedown before it ends).
func (o *Origin) discardPush(name string) bool {
	s := o.lookup(name)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.vod || s.removed {
		return false
	}
	o.cfg.Logger.Info("origin: VOD push discarded by takedown", "title", name)
	o.dropStream(s)
	return true
}

// masterRenditions lists the renditions a rewritten master playlist names.
func masterRenditions(master []byte) []string {
	var out []string
	for _, l := range strings.Split(string(master), "\n") {
		if rn, ok := strings.CutSuffix(strings.TrimSpace(l), ".m3u8"); ok && !strings.HasPrefix(l, "#") && !slices.Contains(out, rn) {
			out = append(out, rn)
		}
	}
	return out
}
