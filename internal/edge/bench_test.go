package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a minimal ResponseWriter so the benchmark measures the edge, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkEdgeHit: parallel GETs of one cached 256 KiB segment through the handler.
func BenchmarkEdgeHit(b *testing.B) {
	const p = "/live/demo/index/mabc12-41.ts"
	seg := pattern(256<<10, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(seg)
	}))
	defer origin.Close()
	e, err := New(Config{Origin: origin.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	h := e.Handler()
	h.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, p, nil)) // warm

	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		for pb.Next() {
			h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
		}
	})
	b.StopTimer()
	if got, want := e.TotalBytesServed(), int64(b.N+1)*int64(len(seg)); got != want {
		b.Fatalf("served %d bytes, want %d", got, want)
	}
}
