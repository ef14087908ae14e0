package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	for path, want := range map[string]string{"/": "<script", "/sdk/demo.js": "", "/sdk/shoal.js": ""} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.Len() == 0 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/sdk/nope.js", nil))
	if rec.Code != 404 {
		t.Fatalf("unknown file: %d", rec.Code)
	}
}
