package tracker

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const adminGolden = "../../testdata/admin"

// TestAdminGolden: every example of docs/admin.md in testdata/admin decodes strictly
// into the type the API uses and encodes back to the same bytes.
func TestAdminGolden(t *testing.T) {
	for name, v := range map[string]any{
		"policy-put.json":         &policyBody{},
		"policy-view.json":        &PolicyView{},
		"policy-view-region.json": &PolicyView{},
		"regions.json":            &[]RegionStats{},
		"bans.json":               &[]BanView{},
		"error.json":              &map[string]string{},
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(adminGolden, name))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			json.NewEncoder(&buf).Encode(v) // as apiJSON writes it
			if buf.String() != string(raw) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", buf.String(), raw)
			}
		})
	}
	// The policy file example opens, and writing it back gives the same file.
	dir := t.TempDir()
	src, err := OpenFileControlStore(filepath.Join(adminGolden, "controls.json"))
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := OpenFileControlStore(filepath.Join(dir, "p.json"))
	all, _ := src.Controls(t.Context())
	for _, c := range all {
		if err := dst.PutControl(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "p.json"))
	want, _ := os.ReadFile(filepath.Join(adminGolden, "controls.json"))
	if !bytes.Equal(got, want) {
		t.Fatalf("policy file\n%s\nwant\n%s", got, want)
	}
}

// TestAdminGoldenMatchesServer: the server's own answers have the golden shape.
func TestAdminGoldenMatchesServer(t *testing.T) {
	h := newHarness(t, Config{AdminToken: testAdminToken})
	h.dial(Join{Stream: "demo", Rendition: "index"}, "10.0.0.1")
	h.do("PUT", "/api/streams/demo/policy", testAdminToken, `{"p2p_enabled":true,"max_upload":0,"neighbours":10}`)
	h.do("PUT", "/api/streams/demo/policy?region=eu-west", testAdminToken, `{"p2p_enabled":false}`)
	for path, file := range map[string]string{
		"/api/streams/demo/policy":                "policy-view.json",
		"/api/streams/demo/policy?region=eu-west": "policy-view-region.json",
	} {
		_, body := h.do("GET", path, "", "")
		want, _ := os.ReadFile(filepath.Join(adminGolden, file))
		if body != string(want) {
			t.Errorf("GET %s:\n%s\nwant (%s)\n%s", path, body, file, want)
		}
	}
	_, body := h.do("PUT", "/api/streams/demo/policy", "nope", `{}`)
	if want, _ := os.ReadFile(filepath.Join(adminGolden, "error.json")); body != string(want) {
		t.Errorf("error body %s, want %s", body, want)
	}
}
