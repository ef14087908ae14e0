package origin

import (
	"crypto/ed25519"
	"errors"
	"net/url"
	"testing"
)

func TestConfig(t *testing.T) {
	o, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Window != DefaultWindow || c.QuietTimeout != DefaultQuietTimeout || c.MaxSegmentBytes != DefaultMaxSegmentBytes ||
		c.MaxPlaylistBytes != DefaultMaxPlaylistBytes || c.MaxStreams != DefaultMaxStreams || c.MaxRenditions != DefaultMaxRenditions ||
		c.Logger == nil || c.Client == nil || c.Now == nil || len(o.key) != ed25519.PrivateKeySize {
		t.Fatalf("defaults not applied: %+v", c)
	}
	bad := []Config{
		{Window: -1},
		{QuietTimeout: -1},
		{MaxStreams: -2},
		{Key: ed25519.PrivateKey{1, 2, 3}},
		{StreamKeys: map[string]ed25519.PrivateKey{"a.b": o.key}},
		{Pulls: map[string]string{"x": "ftp://host/a.m3u8"}},
		{Pulls: map[string]string{"x": "not a url"}},
		{Pulls: map[string]string{"bad name": "http://host/a.m3u8"}},
		{Demo: true, Pulls: map[string]string{"demo": "http://host/a.m3u8"}},
		{MaxStreams: 1, Demo: true, Pulls: map[string]string{"x": "http://host/a.m3u8"}},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	_, k2, _ := ed25519.GenerateKey(nil)
	o, err = New(Config{StreamKeys: map[string]ed25519.PrivateKey{"special": k2}})
	if err != nil {
		t.Fatal(err)
	}
	if !o.PublicKey("special").Equal(k2.Public()) || o.PublicKey("other").Equal(k2.Public()) {
		t.Fatal("per-stream key not used")
	}
}

func TestRenditionFromURL(t *testing.T) {
	base, _ := url.Parse("http://up/live/x/master.m3u8")
	tests := map[string]string{
		"http://up/live/x/index_0.m3u8":         "index_0",
		"http://up/live/x/v1/index.m3u8":        "v1-index",
		"http://up/other/low.m3u8?tok=1":        "low",
		"http://cdn.example/a/b/hi%20res.m3u8":  "hi_res",
		"http://up/live/x/master.m3u8?variant=": "variant",
	}
	for in, want := range tests {
		u, _ := url.Parse(in)
		if got := renditionFromURL(base, u); got != want {
			t.Errorf("renditionFromURL(%q) = %q, want %q", in, got, want)
		}
	}
}
