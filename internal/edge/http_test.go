package edge

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

const segPath = "/live/demo/index/mabc12-41.ts"

func TestRange(t *testing.T) {
	seg := pattern(1000, 5)
	f := newFixture(t, Config{}, map[string][]byte{segPath: seg})
	f.get(t, segPath) // warm: ranges are answered from the cache
	served := f.edge.BytesServed("demo")

	tests := []struct {
		rng          string
		code         int
		want         []byte // single-range body
		contentRange string
		parts        [][]byte // multipart bodies
	}{
		{"bytes=0-9", 206, seg[:10], "bytes 0-9/1000", nil},
		{"bytes=990-", 206, seg[990:], "bytes 990-999/1000", nil},
		{"bytes=-5", 206, seg[995:], "bytes 995-999/1000", nil},
		{"bytes=500-5000", 206, seg[500:], "bytes 500-999/1000", nil},
		{"bytes=0-1,10-12", 206, nil, "", [][]byte{seg[0:2], seg[10:13]}},
		{"bytes=1000-", 416, nil, "bytes */1000", nil},
		{"bytes=5000-6000", 416, nil, "bytes */1000", nil},
		{"", 200, seg, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.rng != "" {
				hdr["Range"] = tc.rng
			}
			resp, body := f.do(t, http.MethodGet, segPath, hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.contentRange {
				t.Fatalf("Content-Range %q, want %q", got, tc.contentRange)
			}
			switch {
			case tc.parts != nil:
				mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if err != nil || mt != "multipart/byteranges" {
					t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
				}
				mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
				for i, want := range tc.parts {
					part, err := mr.NextPart()
					if err != nil {
						t.Fatalf("part %d: %v", i, err)
					}
					var got bytes.Buffer
					_, _ = got.ReadFrom(part)
					if !bytes.Equal(got.Bytes(), want) {
						t.Fatalf("part %d differs", i)
					}
				}
			case tc.code != 416:
				if !bytes.Equal(body, tc.want) {
					t.Fatalf("body of %d bytes, want %d", len(body), len(tc.want))
				}
			}
			if tc.code != 416 {
				served += int64(len(body))
			}
			if got := f.edge.BytesServed("demo"); got != served {
				t.Fatalf("BytesServed = %d, want %d", got, served)
			}
		})
	}
	if got := f.origin.count(segPath); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
	if got := f.edge.TotalBytesServed(); got != served {
		t.Fatalf("TotalBytesServed = %d, want %d", got, served)
	}
}

func TestConditional(t *testing.T) {
	const tagged = "/live/demo/index/mabc12-42.ts"
	seg := pattern(1000, 1)
	f := newFixture(t, Config{}, map[string][]byte{segPath: seg, tagged: seg})
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == tagged {
			w.Header().Set("ETag", `"origin-tag"`)
		}
		return false
	})

	resp, _ := f.get(t, segPath)
	etag := resp.Header.Get("ETag")
	if etag != bodyETag(seg) {
		t.Fatalf("ETag %q, want the body hash %q", etag, bodyETag(seg))
	}
	resp, _ = f.get(t, tagged)
	if got := resp.Header.Get("ETag"); got != `"origin-tag"` {
		t.Fatalf("ETag %q, want the origin's", got)
	}

	served := f.edge.BytesServed("demo")
	tests := []struct {
		path, inm string
		code      int
	}{
		{segPath, etag, http.StatusNotModified},
		{segPath, `"other", ` + etag, http.StatusNotModified},
		{segPath, "*", http.StatusNotModified},
		{segPath, `"other"`, http.StatusOK},
		{tagged, `"origin-tag"`, http.StatusNotModified},
	}
	for _, tc := range tests {
		resp, body := f.do(t, http.MethodGet, tc.path, map[string]string{"If-None-Match": tc.inm})
		if resp.StatusCode != tc.code {
			t.Fatalf("%s If-None-Match %s: status %d, want %d", tc.path, tc.inm, resp.StatusCode, tc.code)
		}
		if tc.code == http.StatusNotModified && len(body) != 0 {
			t.Fatalf("304 with a %d-byte body", len(body))
		}
		served += int64(len(body))
	}
	if got := f.edge.BytesServed("demo"); got != served {
		t.Fatalf("BytesServed = %d, want %d (304s count nothing)", got, served)
	}
}

func TestHead(t *testing.T) {
	f := newFixture(t, Config{}, map[string][]byte{segPath: pattern(1000, 1)})
	resp, body := f.do(t, http.MethodHead, segPath, nil)
	if resp.StatusCode != 200 || resp.ContentLength != 1000 || len(body) != 0 {
		t.Fatalf("HEAD: %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(body))
	}
	if got := f.edge.BytesServed("demo"); got != 0 {
		t.Fatalf("BytesServed = %d after HEAD, want 0", got)
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, Config{AllowOrigin: "https://player.example"}, map[string][]byte{segPath: pattern(10, 1)})
	resp, body := f.do(t, http.MethodOptions, segPath, map[string]string{
		"Origin":                         "https://player.example",
		"Access-Control-Request-Method":  "GET",
		"Access-Control-Request-Headers": "range",
	})
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("preflight: %d, %q", resp.StatusCode, body)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":   "https://player.example",
		"Access-Control-Allow-Methods":  "GET, HEAD, OPTIONS",
		"Access-Control-Allow-Headers":  "Range, Authorization",
		"Access-Control-Expose-Headers": "Content-Length, Content-Range, ETag",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if got := f.origin.count(segPath); got != 0 {
		t.Errorf("preflight reached the origin %d times", got)
	}
	for _, p := range []string{segPath, "/live/demo/index/mabc12-99.ts"} { // success and error
		resp, _ = f.get(t, p)
		for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Expose-Headers"} {
			if got := resp.Header.Get(k); got != want[k] {
				t.Errorf("GET %s (%d): %s = %q, want %q", p, resp.StatusCode, k, got, want[k])
			}
		}
	}
	f2 := newFixture(t, Config{}, nil)
	resp, _ = f2.do(t, http.MethodOptions, segPath, nil)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("default Access-Control-Allow-Origin %q, want *", got)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, Config{}, map[string][]byte{segPath: pattern(10, 1)})
	tests := []struct {
		method, path string
		code         int
	}{
		{http.MethodPost, segPath, http.StatusMethodNotAllowed},
		{http.MethodPut, segPath, http.StatusMethodNotAllowed},
		{http.MethodDelete, segPath, http.StatusMethodNotAllowed},
		{http.MethodGet, "/live/", http.StatusBadRequest},
		{http.MethodGet, "/live/demo", http.StatusBadRequest},
		{http.MethodGet, "/live/demo/", http.StatusBadRequest},
		{http.MethodGet, "/live/de%2Fmo/index.m3u8", http.StatusBadRequest},
		{http.MethodGet, "/live/demo/index/..%2F..%2Fx.ts", http.StatusBadRequest},
		{http.MethodGet, "/live/demo/a/b/c/d.ts", http.StatusBadRequest},
		{http.MethodGet, "/live/" + strings.Repeat("s", 65) + "/index.m3u8", http.StatusBadRequest},
		{http.MethodGet, "/live/demo/in dex.m3u8", http.StatusBadRequest},
		{http.MethodGet, "/other/demo/index.m3u8", http.StatusBadRequest},
		{http.MethodGet, "/live/demo/index/mabc12-99.ts", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := f.do(t, tc.method, tc.path, nil)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if len(bytes.TrimSpace(body)) == 0 {
				t.Fatal("error without a reason in the body")
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("error response Cache-Control %q, want no-store", cc)
			}
		})
	}
	// The edge keeps serving after bad input.
	if resp, _ := f.get(t, segPath); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d after bad requests", resp.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, Config{}, map[string][]byte{
		segPath:                 pattern(1000, 1),
		"/live/demo/index.m3u8": []byte(testPlaylist),
	})
	for range 3 {
		f.get(t, segPath)
	}
	f.do(t, http.MethodGet, segPath, map[string]string{"Range": "bytes=0-99"})
	f.get(t, "/live/demo/index.m3u8")
	f.get(t, "/live/nosuch/index/x-1.ts") // 404: must not create a "nosuch" label

	fams, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range fams {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()+labels(m)] = value(m)
		}
	}
	want := map[string]float64{
		`shoal_edge_origin_fetches_total{kind=segment,stream=demo}`:   1,
		`shoal_edge_origin_fetches_total{kind=playlist,stream=demo}`:  1,
		`shoal_edge_origin_fetches_total{kind=segment,stream=_other}`: 1,
		`shoal_edge_bytes_served_total{stream=demo}`:                  float64(3*1000 + 100 + len(testPlaylist)),
		`shoal_edge_cache_hits_total{kind=segment}`:                   3,
		`shoal_edge_cache_misses_total{kind=segment}`:                 2, // the demo segment and the 404
		`shoal_edge_cache_misses_total{kind=playlist}`:                1,
		`shoal_edge_requests_total{code=200}`:                         4,
		`shoal_edge_requests_total{code=206}`:                         1,
		`shoal_edge_requests_total{code=404}`:                         1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got[`shoal_edge_bytes_served_total{stream=nosuch}`]; ok {
		t.Error("a stream label was created for a stream the origin does not have")
	}
	if got[`shoal_edge_cache_bytes`] <= 1000 {
		t.Errorf("shoal_edge_cache_bytes = %v, want > 1000", got[`shoal_edge_cache_bytes`])
	}
	if float64(f.edge.BytesServed("demo")) != got[`shoal_edge_bytes_served_total{stream=demo}`] {
		t.Error("BytesServed and shoal_edge_bytes_served_total disagree")
	}
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	panic(fmt.Sprint("unexpected metric type ", m))
}
