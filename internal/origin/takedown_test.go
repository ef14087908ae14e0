package origin

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTakedownEndpoint(t *testing.T) {
	_, srv := start(t, Config{PublishToken: "pub", Demo: true, DemoInterval: 20 * time.Millisecond, Window: 6})
	live := srv.URL + "/live/demo/index.m3u8"
	if r := get(t, live); r.code != 200 {
		t.Fatalf("before: %d", r.code)
	}
	for _, tc := range []struct {
		method, path, tok string
		code              int
	}{
		{"POST", "/takedown/demo", "", 401},
		{"POST", "/takedown/demo", "wrong", 403},
		{"GET", "/takedown/demo", "pub", 405},
		{"POST", "/takedown/b%20d", "pub", 400},
	} {
		var hdr []string
		if tc.tok != "" {
			hdr = []string{"Authorization", "Bearer " + tc.tok}
		}
		if r := do(t, tc.method, srv.URL+tc.path, nil, hdr...); r.code != tc.code {
			t.Errorf("%s %s token %q: %d %s, want %d", tc.method, tc.path, tc.tok, r.code, r.body, tc.code)
		}
	}
	if r := get(t, live); r.code != 200 {
		t.Fatalf("refused takedowns took it down: %d", r.code)
	}
	if r := do(t, "POST", srv.URL+"/takedown/demo", nil, "Authorization", "Bearer pub"); r.code != 204 {
		t.Fatalf("takedown: %d %s", r.code, r.body)
	}
	for _, p := range []string{"/live/demo/index.m3u8", "/live/demo/key"} {
		if r := get(t, srv.URL+p); r.code != http.StatusGone {
			t.Errorf("%s after takedown: %d", p, r.code)
		}
	}
	if r := put(t, srv.URL+"/ingest/demo/index.m3u8", tsPlaylist(0, 1, false), "Authorization", "Bearer pub"); r.code != http.StatusGone {
		t.Errorf("ingest after takedown: %d %s", r.code, r.body)
	}
	if r := do(t, "DELETE", srv.URL+"/takedown/demo", nil, "Authorization", "Bearer pub"); r.code != 204 {
		t.Fatalf("restore: %d", r.code)
	}
	waitFor(t, 5*time.Second, "demo served again", func() bool { return get(t, live).code == 200 })
}

// TestTakedownTitle: the operator's takedown of a VOD title's name unregisters the
// title too (as DELETE /titles/{name}), so its files go.
func TestTakedownTitle(t *testing.T) {
	store := t.TempDir()
	o, base, _ := startStore(t, Config{StoreDir: store})
	pushVOD(t, base, "film", 2)
	if err := o.Takedown("film", true); err != nil {
		t.Fatal(err)
	}
	if r := get(t, base+"/live/film/index.m3u8"); r.code != http.StatusGone {
		t.Fatalf("after takedown: %d %s", r.code, r.body)
	}
	if ents, _ := os.ReadDir(filepath.Join(store, storeTitles)); len(ents) != 0 {
		t.Fatalf("files of a taken-down title remain: %v", ents)
	}
}
