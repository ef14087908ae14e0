// Package web embeds the browser SDK's built bundle and demo page, so that `shoal up`
// serves them from a fresh clone without npm. The sources are in src/ and demo/;
// scripts/sdk-test.sh fails when dist/ is not what they build to.
package web

import (
	"embed"
	"net/http"
)

//go:embed demo/index.html dist/demo.js dist/shoal.js
var files embed.FS

// Handler serves the demo page at "/" and the bundles at "/sdk/demo.js" and
// "/sdk/shoal.js" (the SDK alone, for pages that bring their own hls.js).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var name, ctype string
		switch r.URL.Path {
		case "/":
			name, ctype = "demo/index.html", "text/html; charset=utf-8"
		case "/sdk/demo.js":
			name, ctype = "dist/demo.js", "text/javascript; charset=utf-8"
		case "/sdk/shoal.js":
			name, ctype = "dist/shoal.js", "text/javascript; charset=utf-8"
		default:
			http.NotFound(w, r)
			return
		}
		b, err := files.ReadFile(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}
