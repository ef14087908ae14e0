package origin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/takedown"
)

// reasonTakenDown labels ingest refused because the stream was taken down.
const reasonTakenDown = "taken_down"

// Takedown ends a live stream for good (down) or lets it be published again: while
// down, its playback paths answer 410 Gone, its ingest is refused with 410 (the
// encoder stops), and what the origin held of it is dropped. The demo and pull relays
// keep running but are not served. A VOD title of that name is taken down as
// DELETE /titles/{name} does (docs/vod.md): that part is not undone by restoring.
func (o *Origin) Takedown(stream string, down bool) error {
	if err := o.down.Set(stream, down); err != nil {
		return err
	}
	if !down {
		return nil
	}
	if s := o.lookup(stream); s != nil {
		s.mu.Lock()
		if !s.removed {
			o.dropStream(s)
		}
		s.mu.Unlock()
	}
	o.titleMu.RLock()
	_, isTitle := o.titles[stream]
	o.titleMu.RUnlock()
	if isTitle {
		if err := o.takedown(stream); err != nil {
			return err
		}
	}
	o.cfg.Logger.Info("origin: stream taken down", "stream", stream, "title", isTitle)
	return nil
}

// serveTakedown handles POST (take down) and DELETE (restore) /takedown/{stream},
// behind the publish token: whoever may publish a stream may end it.
func (o *Origin) serveTakedown(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/takedown/")
	switch {
	case !media.ValidName(name):
		httpError(w, http.StatusBadRequest, "origin: stream name must match [A-Za-z0-9_-]{1,64}")
		return
	case r.Method != http.MethodPost && r.Method != http.MethodDelete:
		w.Header().Set("Allow", "POST, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "origin: POST takes a stream down, DELETE restores it")
		return
	}
	if err := o.authorize(r, name); err != nil {
		rj := err.(*rejection)
		httpError(w, rj.code, rj.msg)
		return
	}
	if err := o.Takedown(name, r.Method == http.MethodPost); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, takedown.ErrFull) {
			code = http.StatusInsufficientStorage
		}
		httpError(w, code, "origin: takedown: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// refuseTakenDown answers 410 for a taken-down stream and reports whether it did.
func (o *Origin) refuseTakenDown(w http.ResponseWriter, stream string) bool {
	if !o.down.Down(stream) {
		return false
	}
	httpError(w, http.StatusGone, "origin: stream "+quote(stream)+" was taken down by the operator")
	return true
}
