package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/swarm"
)

const testAdminToken = "s3cret-admin"

// do sends an admin request and returns the status and body.
func (h *harness) do(method, path, tok, body string) (int, string) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminRefusals(t *testing.T) {
	h := newHarness(t, Config{AdminToken: testAdminToken})
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	on := `{"p2p_enabled":true,"max_upload":1000000,"neighbours":4}`
	for _, tc := range []struct {
		name, method, path, tok, body string
		code                          int
		reason                        string
	}{
		{"no token", "PUT", "/api/streams/demo/policy", "", on, 401, "Bearer"},
		{"wrong token", "PUT", "/api/streams/demo/policy", "nope", on, 401, "wrong admin token"},
		{"bad json", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":tru`, 400, "not a policy"},
		{"unknown field", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"p2p":1}`, 400, "unknown field"},
		{"missing p2p_enabled", "PUT", "/api/streams/demo/policy", testAdminToken, `{"max_upload":5}`, 400, "p2p_enabled"},
		{"trailing data", "PUT", "/api/streams/demo/policy", testAdminToken, on + `{}`, 400, "after the JSON"},
		{"unknown stream", "PUT", "/api/streams/nosuch/policy", testAdminToken, on, 404, "unknown stream"},
		{"bad stream name", "PUT", "/api/streams/b%20d/policy", testAdminToken, on, 400, "must match"},
		{"negative cap", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"max_upload":-1}`, 422, "max_upload"},
		{"cap too high", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"max_upload":20000000000000}`, 422, "max_upload"},
		{"cap not an integer", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"max_upload":1e14}`, 400, "not a policy"},
		{"neighbours too high", "PUT", "/api/streams/demo/policy", testAdminToken, fmt.Sprintf(`{"p2p_enabled":true,"neighbours":%d}`, swarm.DefaultMaxNeighbours+1), 422, fmt.Sprintf("neighbours %d", swarm.DefaultMaxNeighbours+1)},
		{"neighbours per region", "PUT", "/api/streams/demo/policy?region=eu", testAdminToken, `{"p2p_enabled":true,"neighbours":3}`, 422, "per stream"},
		{"bad region", "PUT", "/api/streams/demo/policy?region=a%20b", testAdminToken, on, 400, "region"},
		{"huge body", "PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"x":"` + strings.Repeat("a", 10<<10) + `"}`, 413, "body over"},
		{"unban without target", "DELETE", "/api/streams/demo/bans", testAdminToken, "", 400, "exactly one"},
		{"bans without token", "GET", "/api/streams/demo/bans", "", "", 401, "Bearer"},
		{"takedown without token", "POST", "/api/streams/demo/takedown", "", "", 401, "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.do(tc.method, tc.path, tc.tok, tc.body)
			if code != tc.code || !strings.Contains(body, tc.reason) {
				t.Fatalf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, body, tc.code, tc.reason)
			}
		})
	}
	// Nothing above changed the policy.
	if p := h.tr.core.Policy("demo"); p != (Policy{P2PEnabled: true, Neighbours: swarm.DefaultMaxNeighbours}) {
		t.Fatalf("policy changed by refused requests: %+v", p)
	}
}

func TestAdminNoTokenNoWrites(t *testing.T) {
	h := newHarness(t, Config{})
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	if code, body := h.do("PUT", "/api/streams/demo/policy", "", `{"p2p_enabled":false}`); code != 403 || !strings.Contains(body, "--admin-token") {
		t.Fatalf("write without a configured token: %d %s", code, body)
	}
	if code, _ := h.do("GET", "/api/streams/demo/policy", "", ""); code != 200 {
		t.Fatalf("read: %d", code)
	}
	open := newHarness(t, Config{AdminOpen: true})
	open.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	if code, body := open.do("PUT", "/api/streams/demo/policy", "", `{"p2p_enabled":false}`); code != 200 {
		t.Fatalf("AdminOpen write: %d %s", code, body)
	}
}

func TestAdminPolicyPushedAndRead(t *testing.T) {
	h := newHarness(t, Config{AdminToken: testAdminToken})
	a := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	b := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.1.1")
	code, body := h.do("PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":false,"max_upload":2000000,"neighbours":6}`)
	if code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	want := Policy{P2PEnabled: false, MaxUpload: 2000000, Neighbours: 6}
	for _, c := range []*Client{a, b} {
		if got := *recvAs[*Policy](t, c); got != want {
			t.Fatalf("peer got %+v, want %+v", got, want)
		}
	}
	var v PolicyView
	_, body = h.do("GET", "/api/streams/demo/policy", "", "")
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Policy != want || !v.Custom {
		t.Fatalf("GET: %s (%v)", body, err)
	}
	// Reset to the default.
	if code, _ := h.do("DELETE", "/api/streams/demo/policy", testAdminToken, ""); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	if got := *recvAs[*Policy](t, a); !got.P2PEnabled || got.Neighbours != swarm.DefaultMaxNeighbours {
		t.Fatalf("after reset: %+v", got)
	}
	// Ahead of an event, with ?create=1.
	if code, body := h.do("PUT", "/api/streams/final/policy?create=1", testAdminToken, `{"p2p_enabled":false}`); code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	if w := h.dial(Join{Stream: "final", Rendition: "index"}, "10.0.2.1").Welcome(); w.Policy.P2PEnabled {
		t.Fatalf("welcome of a pre-set stream: %+v", w.Policy)
	}
}

func TestAdminPolicySurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.json")
	open := func() *harness {
		st, err := OpenFileControlStore(path)
		if err != nil {
			t.Fatal(err)
		}
		return newHarness(t, Config{AdminToken: testAdminToken, Controls: st})
	}
	h := open()
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	if code, body := h.do("PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"max_upload":3000000,"neighbours":5}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := h.do("PUT", "/api/streams/demo/policy?region=eu-west", testAdminToken, `{"p2p_enabled":false}`); code != 200 {
		t.Fatalf("PUT region: %d %s", code, body)
	}
	h2 := open() // a second tracker on the same file: a restart
	var v PolicyView
	code, body := h2.do("GET", "/api/streams/demo/policy", "", "")
	if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil {
		t.Fatalf("GET after restart: %d %s", code, body)
	}
	want := Policy{P2PEnabled: true, MaxUpload: 3000000, Neighbours: 5}
	if v.Policy != want || !v.Custom || v.Regions["eu-west"].P2PEnabled || len(v.Regions) != 1 {
		t.Fatalf("after restart: %+v", v)
	}
	if w := h2.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1").Welcome(); w.Policy != want {
		t.Fatalf("welcome after restart: %+v", w.Policy)
	}
}

func TestOpenFileControlStoreRefusesBadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson":   `{`,
		"badname":   `[{"stream":"a b"}]`,
		"badregion": `[{"stream":"a","regions":{"x y":{"p2p_enabled":false}}}]`,
	} {
		path := filepath.Join(dir, name)
		if err := writeFileAtomic(path, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFileControlStore(path); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// TestRegionPolicyTrusted: a region's P2P off comes from the operator's CIDR map, not
// from what the client declares; its viewers get no neighbours and count in the stats.
func TestRegionPolicyTrusted(t *testing.T) {
	cidrs, err := ParseRegionCIDRs(map[string]string{"10.1.0.0/16": "eu-west", "10.2.0.0/16": "us-east"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{AdminToken: testAdminToken, RegionCIDRs: cidrs})
	us := h.dial(Join{Stream: "demo", Rendition: "index", Region: "us-east", UploadCapacity: 1e7}, "10.2.0.1")
	if code, body := h.do("PUT", "/api/streams/demo/policy?region=eu-west", testAdminToken, `{"p2p_enabled":false}`); code != 200 {
		t.Fatalf("PUT region: %d %s", code, body)
	}
	// A European viewer claiming to be in us-east is filed under eu-west all the same.
	liar := h.dial(Join{Stream: "demo", Rendition: "index", Region: "us-east", UploadCapacity: 1e7}, "10.1.0.7")
	if w := liar.Welcome(); w.Policy.P2PEnabled || len(w.Neighbours) != 0 {
		t.Fatalf("eu-west viewer's welcome: %+v", w)
	}
	us2 := h.dial(Join{Stream: "demo", Rendition: "index", UploadCapacity: 1e7}, "10.2.0.2")
	for _, n := range us2.Welcome().Neighbours {
		if n.PeerID == liar.ID() {
			t.Fatal("a CDN-only region's viewer was introduced")
		}
	}
	if code, body := h.do("GET", "/api/streams/demo/regions", "", ""); code != 200 || !strings.Contains(body, `"region":"eu-west","viewers":1,"p2p_enabled":false`) {
		t.Fatalf("regions: %d %s", code, body)
	}
	if err := liar.Send(ctxT(t), &Stats{BytesCDN: 5000}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "detached viewer's bytes in /api/streams", func() bool {
		st := h.streams("?stream=demo")
		return len(st) == 1 && st[0].Peers == 3 && st[0].BytesCDN == 5000
	})

	// On again: the viewer joins the swarm without a second welcome.
	if code, body := h.do("DELETE", "/api/streams/demo/policy?region=eu-west", testAdminToken, ""); code != 200 {
		t.Fatalf("DELETE region: %d %s", code, body)
	}
	if p := recvAs[*Policy](t, liar); !p.P2PEnabled {
		t.Fatalf("policy after region on: %+v", p)
	}
	if add := recvAs[*Neighbours](t, liar); len(add.Add) == 0 {
		t.Fatalf("no neighbours after region on: %+v", add)
	}
	if err := liar.Send(ctxT(t), &Stats{BytesCDN: 6000}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bytes counted once after rejoining", func() bool {
		st := h.streams("?stream=demo")
		return len(st) == 1 && st[0].Peers == 3 && st[0].BytesCDN == 6000
	})
	_ = us
}

func TestAdminBans(t *testing.T) {
	store := swarm.NewMemStore(4)
	h := newHarness(t, Config{AdminToken: testAdminToken, Store: store})
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	k := SwarmKey{Stream: "demo", Rendition: "index"}
	if err := store.Ban(context.Background(), k, swarm.Ban{PeerID: "bad-peer", Addr: "10.9.9.9", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.dialErr(Join{Stream: "demo", Rendition: "index"}, "10.9.9.9"); err == nil {
		t.Fatal("banned address joined")
	}
	code, body := h.do("GET", "/api/streams/demo/bans", testAdminToken, "")
	var bans []BanView
	if err := json.Unmarshal([]byte(body), &bans); code != 200 || err != nil || len(bans) != 2 || bans[0].PeerID != "bad-peer" || bans[1].Addr != "10.9.9.9" {
		t.Fatalf("bans: %d %s", code, body)
	}
	if code, body := h.do("DELETE", "/api/streams/demo/bans?addr=10.9.9.9", testAdminToken, ""); code != 200 || !strings.Contains(body, `"lifted":1`) {
		t.Fatalf("unban: %d %s", code, body)
	}
	if code, _ := h.do("DELETE", "/api/streams/demo/bans?addr=10.9.9.9", testAdminToken, ""); code != 404 {
		t.Fatalf("second unban: %d", code)
	}
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.9.9.9")
}

func TestAdminTakedown(t *testing.T) {
	var hooked []string
	h := newHarness(t, Config{AdminToken: testAdminToken, OnTakedown: func(_ context.Context, s string, down bool) error {
		if down {
			hooked = append(hooked, s)
		}
		return nil
	}})
	a := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	if code, body := h.do("POST", "/api/streams/demo/takedown", testAdminToken, ""); code != 200 || !strings.Contains(body, `"taken_down":true`) {
		t.Fatalf("takedown: %d %s", code, body)
	}
	if e := recvAs[*Error](t, a); !strings.Contains(e.Message, "taken down") {
		t.Fatalf("peer told %+v", e)
	}
	if err := closed(t, a); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := h.dialErr(Join{Stream: "demo", Rendition: "index"}, "10.0.0.2"); err == nil {
		t.Fatal("joined a taken-down stream")
	}
	if len(hooked) != 1 || hooked[0] != "demo" {
		t.Fatalf("hook calls %v", hooked)
	}
	if code, _ := h.do("DELETE", "/api/streams/demo/takedown", testAdminToken, ""); code != 200 {
		t.Fatalf("restore: %d", code)
	}
	if w := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.2").Welcome(); !w.Policy.P2PEnabled {
		t.Fatalf("after restore: %+v", w.Policy)
	}
}

func TestTrustedRegionHeader(t *testing.T) {
	tr, err := New(Config{RegionHeader: "X-Shoal-Region", RegionCIDRs: []RegionCIDR{{netip.MustParsePrefix("192.0.2.0/24"), "lab"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ header, addr, want string }{
		{"eu-west", "192.0.2.1", "eu-west"},
		{"", "192.0.2.1", "lab"},
		{"bad region!", "192.0.2.1", "lab"},
		{"", "198.51.100.1", ""},
	} {
		r := httptest.NewRequest("GET", "/tracker", nil)
		if tc.header != "" {
			r.Header.Set("X-Shoal-Region", tc.header)
		}
		if got, trusted := tr.trustedRegion(r, tc.addr); got != tc.want || !trusted {
			t.Errorf("header %q addr %s: %q %v, want %q", tc.header, tc.addr, got, trusted, tc.want)
		}
	}
}

func TestSwarmMetricsMatchAPI(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	if err := c.Send(ctxT(t), &Stats{BytesCDN: 100, BytesP2P: 300, Playhead: 9, StalledMs: 1000, StartupMs: 1500}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "stats", func() bool { st := h.streams(""); return len(st) == 1 && st[0].BytesP2P == 300 })
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" {
					key += "/" + l.GetValue()
				}
			}
			got[key] = v
		}
	}
	if got["shoal_swarm_offload_ratio"] != 0.75 || got["shoal_swarm_bytes_total/p2p"] != 300 || got["shoal_swarm_peers"] != 1 || got["shoal_stream_p2p_enabled"] != 1 ||
		got["shoal_region_viewers"] != 1 || got["shoal_region_rebuffer_ratio"] != 0.1 || got["shoal_region_startup_p50_seconds"] != 1.5 {
		t.Fatalf("metrics %v", got)
	}
}

// FuzzControlFile: any policy file either opens with every entry valid or is refused.
func FuzzControlFile(f *testing.F) {
	f.Add([]byte(`[{"stream":"demo","policy":{"p2p_enabled":false,"max_upload":0,"neighbours":4},"regions":{"eu":{"p2p_enabled":false,"max_upload":0,"neighbours":0}}}]`))
	f.Add([]byte(`[{"stream":"x","taken_down":true}]`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "p.json")
		if err := writeFileAtomic(path, b); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileControlStore(path)
		if err != nil {
			return
		}
		all, _ := s.Controls(context.Background())
		for _, c := range all {
			if err := c.validate(); err != nil {
				t.Fatalf("opened an invalid entry: %v", err)
			}
		}
	})
}

// FuzzPolicyBody: a PUT body is a policy or a 4xx, never a 5xx or a panic.
func FuzzPolicyBody(f *testing.F) {
	f.Add(`{"p2p_enabled":true,"max_upload":1000,"neighbours":4}`)
	f.Add(`{"p2p_enabled":false}`)
	f.Add(`{"max_upload":-5}`)
	tr, err := New(Config{AdminOpen: true})
	if err != nil {
		f.Fatal(err)
	}
	h := tr.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("PUT", "/api/streams/demo/policy?create=1", strings.NewReader(body)))
		if w.Code != 200 && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}

// TestDetachedFiguresCollected: the figures of a swarm whose only viewers were
// detached go when the swarm would go (EmptySwarmTTL).
func TestDetachedFiguresCollected(t *testing.T) {
	cidrs, _ := ParseRegionCIDRs(map[string]string{"10.1.0.0/16": "eu-west"})
	h := newHarness(t, Config{AdminOpen: true, RegionCIDRs: cidrs, EmptySwarmTTL: 50 * time.Millisecond})
	if code, body := h.do("PUT", "/api/streams/demo/policy?region=eu-west&create=1", "", `{"p2p_enabled":false}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	c := h.dial(Join{Stream: "demo", Rendition: "index"}, "10.1.0.1")
	c.Send(ctxT(t), &Stats{BytesCDN: 10})
	eventually(t, "listed", func() bool { st := h.streams(""); return len(st) == 1 && st[0].BytesCDN == 10 })
	c.Close()
	eventually(t, "collected", func() bool { return len(h.streams("")) == 0 })
}
