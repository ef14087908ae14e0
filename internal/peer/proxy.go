package peer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"time"
)

// Handler is the local HLS proxy, for any HLS player on this machine:
//
//	GET /live/{stream}/{rendition}.m3u8        the rendition's live playlist (URIs relative, so
//	                                           segments come from this proxy)
//	GET /live/{stream}/{rendition}/{epoch}-{seq}.ts|.m4s
//	                                           the segment from the engine once complete and
//	                                           verified; after ProxyWait, from the edge
//	GET /live/{stream}/...                     anything else (init sections, records, key):
//	                                           passed through from the edge
//	GET /stats                                 the peer's Stats as JSON
//
// Segment requests also raise the segment's priority: a player that asks
// for it needs it now.
func (p *Peer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(p.Stats())
	})
	mux.HandleFunc("GET /live/{stream}/{file...}", p.serveLive)
	return mux
}

func (p *Peer) serveLive(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("stream") != p.cfg.Stream {
		http.Error(w, "peer: this proxy serves stream "+p.cfg.Stream+" only", http.StatusNotFound)
		return
	}
	file := r.PathValue("file")
	if file == p.cfg.Rendition+".m3u8" {
		p.servePlaylist(w, r)
		return
	}
	dir, name := path.Split(file)
	if dir == p.cfg.Rendition+"/" {
		if epoch, seq, ok := segmentSeq(name); ok {
			p.serveSegment(w, r, file, epoch, seq)
			return
		}
	}
	if strings.Contains(file, "..") || !validPath(file) {
		http.Error(w, "peer: bad path", http.StatusBadRequest)
		return
	}
	// Init sections, records, the key, other renditions: from the edge as is.
	p.passThrough(w, r, file, false)
}

func (p *Peer) servePlaylist(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := withTimeout(r.Context(), p.cfg.Clock, 10*time.Second)
	defer cancel()
	select {
	case <-p.plReady:
	case <-ctx.Done():
		http.Error(w, "peer: no playlist from the edge yet", http.StatusServiceUnavailable)
		return
	}
	p.mu.Lock()
	raw := p.playlist.raw
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(raw)
}

func (p *Peer) serveSegment(w http.ResponseWriter, r *http.Request, file, epoch string, seq uint64) {
	reply := make(chan *proxySeg, 1)
	var s *proxySeg
	if p.post(r.Context(), evDemand{seq: seq, epoch: epoch, reply: reply}) {
		select {
		case s = <-reply:
		case <-r.Context().Done():
			return
		case <-p.loopDone:
		}
	}
	if s != nil {
		wait := p.cfg.ProxyWait
		if wait <= 0 {
			wait = max(4*time.Second, 2*s.dur)
		}
		expired, t := after(p.cfg.Clock, wait)
		defer t.Stop()
		select {
		case <-s.done:
			w.Header().Set("Content-Type", contentType(name(file)))
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.data))
			return
		case <-r.Context().Done():
			return
		case <-expired:
			p.log.Info("peer: proxy fell back to the edge", "segment", file)
		case <-p.loopDone:
		}
	}
	p.passThrough(w, r, file, true)
}

// passThrough fetches file from the edge for the local player.
func (p *Peer) passThrough(w http.ResponseWriter, r *http.Request, file string, media bool) {
	b, err := p.cdn.get(r.Context(), file, maxSegmentBytes, media)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", contentType(name(file)))
	w.Write(b)
}

func name(file string) string { return path.Base(file) }

func contentType(n string) string {
	switch path.Ext(n) {
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4":
		return "video/mp4"
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	}
	return "application/octet-stream"
}

// validPath: elements of [A-Za-z0-9_.-], at most 4, none only dots.
func validPath(file string) bool {
	elems := strings.Split(file, "/")
	if len(elems) > 4 {
		return false
	}
	for _, e := range elems {
		if e == "" || strings.Trim(e, ".") == "" || len(e) > 128 {
			return false
		}
		for i := 0; i < len(e); i++ {
			c := e[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				return false
			}
		}
	}
	return true
}
