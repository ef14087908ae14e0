package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestSamplerRates(t *testing.T) {
	now := time.Unix(1000, 0)
	var cdn, p2p uint64
	var egress float64
	s := New(Config{
		Swarms: func(context.Context) ([]Swarm, error) {
			return []Swarm{{Stream: "demo", Peers: 3, BytesCDN: cdn, BytesP2P: p2p}, {Stream: "demo", Peers: 1}}, nil
		},
		Egress: func(context.Context, []string) (map[string]float64, error) {
			return map[string]float64{"demo": egress}, nil
		},
		Now:     func() time.Time { return now },
		History: 3, Window: 2 * time.Second,
	})
	for i := range 5 {
		s.SampleOnce(context.Background())
		now = now.Add(2 * time.Second)
		cdn += 1000
		p2p += 3000
		egress += 1200
		_ = i
	}
	got := s.Series("demo")
	if len(got) != 3 {
		t.Fatalf("%d samples, want the last 3", len(got))
	}
	last := got[2]
	if last.Peers != 4 || last.CDNRate != 500 || last.P2PRate != 1500 || last.EgressRate != 600 || last.Offload != 0.75 || last.Cumulative != 0.75 {
		t.Fatalf("last sample %+v", last)
	}
	if got[0].T >= got[1].T || got[1].T >= got[2].T {
		t.Fatalf("not oldest first: %+v", got)
	}
	if s.Series("other") != nil {
		t.Fatal("unknown stream has samples")
	}
}

func TestSamplerCounterReset(t *testing.T) {
	now := time.Unix(0, 0)
	cdn := uint64(5000)
	s := New(Config{Swarms: func(context.Context) ([]Swarm, error) { return []Swarm{{Stream: "a", BytesCDN: cdn}}, nil },
		Now: func() time.Time { return now }})
	s.SampleOnce(context.Background())
	now, cdn = now.Add(time.Second), 100 // the tracker restarted
	s.SampleOnce(context.Background())
	if got := s.Series("a"); len(got) != 1 || got[0].CDNRate != 0 || got[0].EgressRate != -1 {
		t.Fatalf("%+v", got)
	}
}

func TestEdgeScraper(t *testing.T) {
	srv := func(v float64) *httptest.Server {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: EgressMetric, Help: "x"}, []string{"stream"})
		reg.MustRegister(c)
		c.WithLabelValues("demo").Add(v)
		c.WithLabelValues("other").Add(1)
		s := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := srv(1000), srv(500)
	got, err := EdgeScraper{URLs: []string{a.URL, b.URL + "/metrics"}}.Egress(context.Background(), nil)
	if err != nil || got["demo"] != 1500 || got["other"] != 2 {
		t.Fatalf("%v %v", got, err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	got, err = EdgeScraper{URLs: []string{a.URL, down.URL}}.Egress(context.Background(), nil)
	if err == nil || got["demo"] != 1000 {
		t.Fatalf("with an edge down: %v %v", got, err)
	}
}

func TestParseEgressRefusesGarbage(t *testing.T) {
	if _, err := ParseEgress(strings.NewReader("shoal_edge_bytes_served_total{stream=\"a\" 12\n")); err == nil {
		t.Fatal("parsed a broken label set")
	}
	m, err := ParseEgress(strings.NewReader("# TYPE x counter\nx 1\n"))
	if err != nil || len(m) != 0 {
		t.Fatalf("%v %v", m, err)
	}
}

func FuzzParseEgress(f *testing.F) {
	f.Add("# TYPE shoal_edge_bytes_served_total counter\nshoal_edge_bytes_served_total{stream=\"demo\"} 12345\n")
	f.Add("shoal_edge_bytes_served_total{stream=\"a\"} NaN\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseEgress(strings.NewReader(s)) // must not panic
	})
}

func TestHandler(t *testing.T) {
	s := New(Config{Swarms: func(context.Context) ([]Swarm, error) { return nil, nil }})
	mux := http.NewServeMux()
	mux.Handle("/console", s.Handler())
	mux.Handle("/console/", s.Handler())
	mux.Handle("/api/console/", s.Handler())
	mux.HandleFunc("/favicon.ico", Favicon)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{
		"/console":                        "text/html",
		"/console/console.js":             "text/javascript",
		"/console/uPlot.iife.min.js":      "text/javascript",
		"/console/uPlot.min.css":          "text/css",
		"/favicon.ico":                    "image/png",
		"/api/console/series?stream=demo": "application/json",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) || len(b) == 0 {
			t.Errorf("%s: %s %q (%d bytes)", path, resp.Status, resp.Header.Get("Content-Type"), len(b))
		}
		if path == "/api/console/series?stream=demo" {
			var v []Sample
			if json.Unmarshal(b, &v) != nil || v == nil {
				t.Errorf("series: %s", b)
			}
		}
	}
	for _, path := range []string{"/console/nope.js", "/api/console/series?stream=a%20b"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
}
