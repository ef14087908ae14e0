package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

//go:embed assets/index.html assets/console.js assets/uPlot.iife.min.js assets/uPlot.min.css
var assets embed.FS

var files = map[string]struct{ name, ctype string }{
	"/console":                   {"assets/index.html", "text/html; charset=utf-8"},
	"/console/":                  {"assets/index.html", "text/html; charset=utf-8"},
	"/console/console.js":        {"assets/console.js", "text/javascript; charset=utf-8"},
	"/console/uPlot.iife.min.js": {"assets/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
	"/console/uPlot.min.css":     {"assets/uPlot.min.css", "text/css; charset=utf-8"},
}

// Handler serves the page at /console (and its files under /console/) and the
// samples at GET /api/console/series?stream=NAME. Mount it for "/console" and
// "/console/" and "/api/console/".
func (s *Sampler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/console/series", s.serveSeries)
	mux.HandleFunc("GET /", serveAsset)
	return mux
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	f, ok := files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile(f.name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

func (s *Sampler) serveSeries(w http.ResponseWriter, r *http.Request) {
	stream := r.URL.Query().Get("stream")
	if !signalling.ValidName(stream) {
		http.Error(w, "console: stream must match [A-Za-z0-9_-]{1,64}", http.StatusBadRequest)
		return
	}
	out := s.Series(stream)
	if out == nil {
		out = []Sample{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

// favicon is a 16×16 PNG, a teal square: browsers ask every page's origin for
// /favicon.ico, and a 404 is an error in their console.
var favicon = func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, color.NRGBA{R: 0x0b, G: 0x7a, B: 0x75, A: 0xff})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}()

// Favicon serves GET /favicon.ico.
func Favicon(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Write(favicon)
}
