package origin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// upstream is a plain HLS server with a rolling 4-segment window over the demo
// samples: segment n of a variant is sample (n + shift) % 8.
type upstream struct {
	t    *testing.T
	mu   sync.Mutex
	head int // segments produced
	gen  int // bumped on a simulated upstream restart: names restart, bytes differ
	fail bool
	hits map[string]int
}

func (u *upstream) set(head int) { u.mu.Lock(); u.head = head; u.mu.Unlock() }

func (u *upstream) hitsOf(path string) int { u.mu.Lock(); defer u.mu.Unlock(); return u.hits[path] }

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.hits[r.URL.Path]++
	if u.fail {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	switch {
	case r.URL.Path == "/master.m3u8":
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-VERSION:3\n"+
			"#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\"\na/index.m3u8\n"+
			"#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\"\nhttp://"+r.Host+"/b/index.m3u8\n")
	case strings.HasSuffix(r.URL.Path, ".m3u8"):
		first := max(0, u.head-4)
		fmt.Fprintf(w, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
		for n := first; n < u.head; n++ {
			fmt.Fprintf(w, "#EXTINF:2.0,\nseg%d.ts?v=%d\n", n, u.gen)
		}
	case strings.HasSuffix(r.URL.Path, ".ts"):
		var n int
		if _, err := fmt.Sscanf(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], "seg%d.ts", &n); err != nil || n >= u.head {
			http.NotFound(w, r)
			return
		}
		w.Write(sample(u.t, (n+u.gen)%8))
	default:
		http.NotFound(w, r)
	}
}

func TestPullRelay(t *testing.T) {
	up := &upstream{t: t, head: 5, hits: map[string]int{}}
	usrv := httptest.NewServer(up)
	defer usrv.Close()
	_, srv := start(t, Config{
		Window:       6,
		PullInterval: 20 * time.Millisecond,
		Pulls:        map[string]string{"relay": usrv.URL + "/live/index.m3u8"},
	})
	listed := func(n int) func() bool {
		return func() bool {
			r := get(t, srv.URL+"/live/relay/index.m3u8")
			pl, err := media.ParseMedia(r.body)
			return r.code == http.StatusOK && err == nil && len(pl.Segments) == n
		}
	}
	// Joining, the relay takes the newest 3 upstream segments.
	waitFor(t, 10*time.Second, "3 relayed segments", listed(3))
	up.set(7)
	waitFor(t, 10*time.Second, "5 relayed segments", listed(5))
	_, segs := checkSegments(t, srv.URL, "relay", "index")
	for i, s := range segs {
		// Upstream is one continuous mux, so the bytes pass through unchanged.
		if !bytes.Equal(s.data, sample(t, i+2)) {
			t.Fatalf("relayed segment %d differs from upstream segment %d", i, i+2)
		}
	}
	for n := 0; n < 2; n++ {
		if up.hitsOf(fmt.Sprintf("/live/seg%d.ts", n)) != 0 {
			t.Errorf("fetched upstream segment %d, older than the join point", n)
		}
	}
	for n := 2; n < 7; n++ {
		if h := up.hitsOf(fmt.Sprintf("/live/seg%d.ts", n)); h != 1 {
			t.Errorf("upstream segment %d fetched %d times", n, h)
		}
	}
	// Upstream outage, then an upstream restart: names restart with other bytes.
	up.mu.Lock()
	up.fail = true
	up.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	up.mu.Lock()
	up.fail, up.head, up.gen = false, 2, 1
	up.mu.Unlock()
	waitFor(t, 15*time.Second, "restart relayed", listed(6))
	pl, after := checkSegments(t, srv.URL, "relay", "index")
	if !pl.Segments[5].Discontinuity && !pl.Segments[4].Discontinuity {
		t.Fatalf("upstream restart without discontinuity:\n%s", get(t, srv.URL+"/live/relay/index.m3u8").body)
	}
	seen := urlBytes{}
	seen.check(t, segs)
	seen.check(t, after)
}

func TestPullRelayMultivariant(t *testing.T) {
	up := &upstream{t: t, head: 3, hits: map[string]int{}}
	usrv := httptest.NewServer(up)
	defer usrv.Close()
	_, srv := start(t, Config{
		PullInterval: 20 * time.Millisecond,
		Pulls:        map[string]string{"ladder": usrv.URL + "/master.m3u8"},
	})
	waitFor(t, 10*time.Second, "both renditions", func() bool {
		return get(t, srv.URL+"/live/ladder/a-index.m3u8").code == http.StatusOK &&
			get(t, srv.URL+"/live/ladder/b-index.m3u8").code == http.StatusOK
	})
	r := get(t, srv.URL+"/live/ladder/master.m3u8")
	m, err := media.ParseMultivariant(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Variants) != 2 || m.Variants[0].URI != "a-index.m3u8" || m.Variants[1].URI != "b-index.m3u8" {
		t.Fatalf("master:\n%s", r.body)
	}
	checkSegments(t, srv.URL, "ladder", "a-index")
	checkSegments(t, srv.URL, "ladder", "b-index")
	if r := put(t, srv.URL+"/ingest/ladder/index0.ts", sample(t, 0)); r.code != http.StatusConflict {
		t.Fatalf("ingest into a pulled stream: %d", r.code)
	}
}
