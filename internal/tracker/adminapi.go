package tracker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// MaxAdminBody bounds an admin request's body: a policy is under 100 bytes.
const MaxAdminBody = 4 << 10

// adminRoutes adds the operator's API (docs/admin.md) to mux.
func (t *Tracker) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/streams/{stream}/policy", t.serveGetPolicy)
	mux.HandleFunc("PUT /api/streams/{stream}/policy", t.admin(t.servePutPolicy))
	mux.HandleFunc("DELETE /api/streams/{stream}/policy", t.admin(t.serveDeletePolicy))
	mux.HandleFunc("GET /api/streams/{stream}/regions", t.serveRegions)
	mux.HandleFunc("GET /api/streams/{stream}/bans", t.admin(t.serveBans))
	mux.HandleFunc("DELETE /api/streams/{stream}/bans", t.admin(t.serveUnban))
	mux.HandleFunc("POST /api/streams/{stream}/takedown", t.admin(t.serveTakedown(true)))
	mux.HandleFunc("DELETE /api/streams/{stream}/takedown", t.admin(t.serveTakedown(false)))
	mux.HandleFunc("GET /api/controls", t.serveControls)
}

// apiError answers with {"error": msg}.
func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func apiJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// admin guards a handler that changes state or shows addresses: a Bearer token equal
// to Config.AdminToken; with no token configured, only Config.AdminOpen lets it through.
func (t *Tracker) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.cfg.AdminToken == "" {
			if !t.cfg.AdminOpen {
				apiError(w, http.StatusForbidden, "admin API disabled: start the tracker with --admin-token")
				return
			}
		} else {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || got == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shoal admin"`)
				apiError(w, http.StatusUnauthorized, "admin API needs Authorization: Bearer <admin token>")
				return
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(t.cfg.AdminToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shoal admin", error="invalid_token"`)
				apiError(w, http.StatusUnauthorized, "wrong admin token")
				return
			}
		}
		h(w, r)
	}
}

// pathStream returns the {stream} of the path, or answers 400.
func pathStream(w http.ResponseWriter, r *http.Request) (string, bool) {
	s := r.PathValue("stream")
	if !ValidName(s) {
		apiError(w, http.StatusBadRequest, "stream must match [A-Za-z0-9_-]{1,64}")
		return "", false
	}
	return s, true
}

// queryRegion returns ?region= ("" = the whole stream), or answers 400.
func queryRegion(w http.ResponseWriter, r *http.Request) (string, bool) {
	reg := r.URL.Query().Get("region")
	if r.URL.Query().Has("region") && (reg == "" || !signalling.ValidRegion(reg)) {
		apiError(w, http.StatusBadRequest, "region must match [A-Za-z0-9_.:/-]{1,64}")
		return "", false
	}
	return reg, true
}

// PolicyView is the answer of GET /api/streams/{stream}/policy.
type PolicyView struct {
	Stream string `json:"stream"`
	Region string `json:"region,omitempty"`
	// Policy is what peers (of Region, if set) get now.
	Policy Policy `json:"policy"`
	// Custom: the operator set a policy for the stream (or the region); otherwise the
	// tracker's default applies.
	Custom    bool              `json:"custom"`
	Regions   map[string]Policy `json:"regions,omitempty"` // region policies, as set
	TakenDown bool              `json:"taken_down,omitempty"`
}

func (t *Tracker) policyView(stream, region string) PolicyView {
	c := t.Control(stream)
	v := PolicyView{Stream: stream, Region: region, Policy: t.core.Policy(stream), Custom: c.Policy != nil,
		Regions: c.Regions, TakenDown: c.TakenDown}
	if region != "" {
		v.Policy, v.Custom = t.regionPolicy(stream, region, v.Policy)
	}
	return v
}

func (t *Tracker) serveGetPolicy(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok {
		return
	}
	region, ok := queryRegion(w, r)
	if !ok {
		return
	}
	if !t.requireKnown(w, r, stream) {
		return
	}
	apiJSON(w, t.policyView(stream, region))
}

// requireKnown answers 404 for a stream the tracker has never seen, unless the request
// says ?create=1 (setting a policy before an event starts).
func (t *Tracker) requireKnown(w http.ResponseWriter, r *http.Request, stream string) bool {
	if r.URL.Query().Get("create") == "1" {
		return true
	}
	known, err := t.known(r.Context(), stream)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "tracker: swarm state unavailable")
		return false
	}
	if !known {
		apiError(w, http.StatusNotFound, fmt.Sprintf("unknown stream %q: no swarm and no stored policy (add ?create=1 to set one ahead of time)", stream))
	}
	return known
}

// policyBody is a PUT body: p2p_enabled is required, so that a body holding only a
// cap cannot turn P2P off by omission.
type policyBody struct {
	P2PEnabled *bool `json:"p2p_enabled"`
	MaxUpload  int64 `json:"max_upload"`
	Neighbours int   `json:"neighbours"`
}

// decodeBody reads one JSON object of at most MaxAdminBody bytes into v, refusing
// unknown fields and trailing data; it answers the 4xx itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAdminBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", MaxAdminBody))
		} else {
			apiError(w, http.StatusBadRequest, "reading body: "+err.Error())
		}
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "body is not a policy object: "+err.Error())
		return false
	}
	if dec.More() {
		apiError(w, http.StatusBadRequest, "body has data after the JSON object")
		return false
	}
	return true
}

func (t *Tracker) servePutPolicy(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok {
		return
	}
	region, ok := queryRegion(w, r)
	if !ok || !t.requireKnown(w, r, stream) {
		return
	}
	var b policyBody
	if !decodeBody(w, r, &b) {
		return
	}
	if b.P2PEnabled == nil {
		apiError(w, http.StatusBadRequest, `body needs "p2p_enabled" (true or false)`)
		return
	}
	p := Policy{P2PEnabled: *b.P2PEnabled, MaxUpload: b.MaxUpload, Neighbours: b.Neighbours}
	if err := t.checkPolicy(p, region != ""); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	t.answerUpdate(w, r, stream, region, func(c *Control) error {
		if region == "" {
			c.Policy = &p
			return nil
		}
		if c.Regions == nil {
			c.Regions = make(map[string]Policy)
		}
		c.Regions[region] = p
		return nil
	})
}

func (t *Tracker) serveDeletePolicy(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok {
		return
	}
	region, ok := queryRegion(w, r)
	if !ok || !t.requireKnown(w, r, stream) {
		return
	}
	t.answerUpdate(w, r, stream, region, func(c *Control) error {
		if region == "" {
			c.Policy = nil
		} else {
			delete(c.Regions, region)
		}
		return nil
	})
}

func (t *Tracker) answerUpdate(w http.ResponseWriter, r *http.Request, stream, region string, fn func(*Control) error) {
	if _, err := t.update(r.Context(), stream, fn); err != nil {
		switch {
		case errors.Is(err, ErrBadPolicy):
			apiError(w, http.StatusUnprocessableEntity, err.Error())
		case errors.Is(err, ErrTooManyControls):
			apiError(w, http.StatusInsufficientStorage, err.Error())
		default:
			t.log.Warn("tracker: admin update", "stream", stream, "err", err)
			apiError(w, http.StatusInternalServerError, "policy not stored: "+err.Error())
		}
		return
	}
	apiJSON(w, t.policyView(stream, region))
}

func (t *Tracker) serveRegions(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok || !t.requireKnown(w, r, stream) {
		return
	}
	apiJSON(w, t.Regions(stream))
}

func (t *Tracker) serveControls(w http.ResponseWriter, r *http.Request) {
	t.ctl.mu.RLock()
	out := sortedControls(t.ctl.m)
	t.ctl.mu.RUnlock()
	apiJSON(w, out)
}

// BanView is one element of GET /api/streams/{stream}/bans.
type BanView struct {
	Rendition string    `json:"rendition"`
	PeerID    string    `json:"peer_id,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	Until     time.Time `json:"until"`
}

func (t *Tracker) banLister(w http.ResponseWriter) (swarm.BanLister, bool) {
	bl, ok := t.shared.(swarm.BanLister)
	if !ok {
		apiError(w, http.StatusNotImplemented, "this tracker's store cannot list bans")
	}
	return bl, ok
}

// renditions returns the swarms of stream the store knows.
func (t *Tracker) renditions(ctx context.Context, stream string) ([]SwarmKey, error) {
	all, err := t.shared.Swarms(ctx)
	if err != nil {
		return nil, err
	}
	var out []SwarmKey
	for _, s := range all {
		if s.Swarm.Stream == stream {
			out = append(out, s.Swarm)
		}
	}
	return out, nil
}

func (t *Tracker) serveBans(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok || !t.requireKnown(w, r, stream) {
		return
	}
	bl, ok := t.banLister(w)
	if !ok {
		return
	}
	keys, err := t.renditions(r.Context(), stream)
	out := []BanView{}
	for _, k := range keys {
		if err != nil {
			break
		}
		var bans []swarm.Ban
		bans, err = bl.Bans(r.Context(), k, t.now())
		for _, b := range bans {
			out = append(out, BanView{Rendition: k.Rendition, PeerID: b.PeerID, Addr: b.Addr, Until: b.Until.UTC()})
		}
	}
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "tracker: bans unavailable")
		return
	}
	apiJSON(w, out)
}

func (t *Tracker) serveUnban(w http.ResponseWriter, r *http.Request) {
	stream, ok := pathStream(w, r)
	if !ok || !t.requireKnown(w, r, stream) {
		return
	}
	q := r.URL.Query()
	id, addr := q.Get("peer_id"), q.Get("addr")
	if (id == "") == (addr == "") || (id != "" && !signalling.ValidPeerID(id)) || len(addr) > 64 {
		apiError(w, http.StatusBadRequest, "give exactly one of ?peer_id=ID or ?addr=IP")
		return
	}
	bl, ok := t.banLister(w)
	if !ok {
		return
	}
	keys, err := t.renditions(r.Context(), stream)
	lifted := 0
	for _, k := range keys {
		if err != nil {
			break
		}
		var found bool
		found, err = bl.Unban(r.Context(), k, id, addr, t.now())
		if found {
			lifted++
		}
	}
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "tracker: bans unavailable")
		return
	}
	if lifted == 0 {
		apiError(w, http.StatusNotFound, "no such ban in force")
		return
	}
	t.log.Info("tracker: ban lifted", "stream", stream, "peer", id, "addr", addr, "swarms", lifted)
	apiJSON(w, map[string]int{"lifted": lifted})
}

// serveTakedown takes a stream down (or restores it): the tracker refuses its joins
// and drops its peers, then Config.OnTakedown tells the origin and edges.
func (t *Tracker) serveTakedown(down bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		stream, ok := pathStream(w, r)
		if !ok || !t.requireKnown(w, r, stream) {
			return
		}
		if _, err := t.update(r.Context(), stream, func(c *Control) error { c.TakenDown = down; return nil }); err != nil {
			t.log.Warn("tracker: takedown", "stream", stream, "err", err)
			apiError(w, http.StatusInternalServerError, "takedown not stored: "+err.Error())
			return
		}
		if h := t.cfg.OnTakedown; h != nil {
			if err := h(r.Context(), stream, down); err != nil {
				t.log.Warn("tracker: takedown hook", "stream", stream, "err", err)
				apiError(w, http.StatusBadGateway, "swarms updated, but the origin/edges were not: "+err.Error())
				return
			}
		}
		apiJSON(w, t.policyView(stream, ""))
	}
}
