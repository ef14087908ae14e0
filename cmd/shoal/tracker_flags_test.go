package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddrLimitFlags: the per-address limit, its ranges and the trusted proxies come
// from flags or the YAML file, and bad values are refused naming the flag.
func TestAddrLimitFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shoal.yaml")
	if err := os.WriteFile(file, []byte("tracker:\n  addr-limit: 200\n  addr-limit-cidr: {10.0.0.0/8: 5000, 127.0.0.0/8: 0}\n  trusted-proxy: 192.0.2.0/24,2001:db8::1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := newFlags("tracker", "test")
	tf := addTrackerFlags(fs, "")
	if err := parse(fs, []string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	cfg, err := tf.config("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AddrLimits.PerAddr != 200 || len(cfg.AddrLimits.Ranges) != 2 || len(cfg.TrustedProxies) != 2 ||
		cfg.TrustedProxies[1] != netip.MustParsePrefix("2001:db8::1/128") {
		t.Fatalf("parsed %+v, proxies %v", cfg.AddrLimits, cfg.TrustedProxies)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr-limit", "0"}, "--addr-limit"},
		{[]string{"--addr-limit-cidr", "10.0.0.0/8=-3"}, "--addr-limit-cidr"},
		{[]string{"--addr-limit-cidr", "nonsense=3"}, "--addr-limit-cidr"},
		{[]string{"--trusted-proxy", "10.0.0.0/8,proxy.example"}, "--trusted-proxy"},
	} {
		fs := newFlags("tracker", "test")
		tf := addTrackerFlags(fs, "")
		if err := parse(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		if _, err := tf.config(""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
