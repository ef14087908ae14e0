package main

import (
	"strings"
	"testing"
)

func TestParseEnvThenFlags(t *testing.T) {
	fs := newFlags("x", "test")
	listen := fs.String("listen", "127.0.0.1:1", "")
	window := fs.Int("window", 12, "")
	var size byteSize
	fs.Var(&size, "cache-bytes", "")
	pulls := keyValues{}
	fs.Var(pulls, "pull", "")
	t.Setenv("SHOAL_LISTEN", "127.0.0.1:2")
	t.Setenv("SHOAL_WINDOW", "5")
	t.Setenv("SHOAL_CACHE_BYTES", "2MiB")
	t.Setenv("SHOAL_PULL", "a=http://x/a.m3u8,b=http://y/b.m3u8")
	if err := parse(fs, []string{"--window", "7"}); err != nil {
		t.Fatal(err)
	}
	if *listen != "127.0.0.1:2" || *window != 7 || size != 2<<20 || len(pulls) != 2 || pulls["b"] != "http://y/b.m3u8" {
		t.Fatalf("listen %q window %d size %d pulls %v", *listen, *window, size, pulls)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"stray"}, "unexpected argument"},
		{"", []string{"--cache-bytes", "lots"}, "size"},
		{"nonsense", nil, "SHOAL_WINDOW"},
		{"", []string{"--pull", "novalue"}, "NAME=VALUE"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			fs := newFlags("x", "test")
			fs.Int("window", 12, "")
			var size byteSize
			fs.Var(&size, "cache-bytes", "")
			fs.Var(keyValues{}, "pull", "")
			if tc.env != "" {
				t.Setenv("SHOAL_WINDOW", tc.env)
			}
			fs.SetOutput(&strings.Builder{})
			err := parse(fs, tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("env %q args %v: err %v, want %q", tc.env, tc.args, err, tc.want)
			}
		})
	}
}

func TestLogFlagsRefuseTypos(t *testing.T) {
	fs := newFlags("x", "test")
	logFlags(fs)
	fs.SetOutput(&strings.Builder{})
	if err := parse(fs, []string{"--log-level", "verbose"}); err == nil || !strings.Contains(err.Error(), "debug, info, warn, error") {
		t.Fatalf("err %v", err)
	}
	fs = newFlags("x", "test")
	log := logFlags(fs)
	if err := parse(fs, []string{"--log-level", "debug", "--log-format", "json"}); err != nil || log() == nil {
		t.Fatal(err)
	}
}
