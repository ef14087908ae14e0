package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

type kv map[string]string

func (m kv) String() string { return "" }
func (m kv) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want NAME=VALUE")
	}
	m[k] = v
	return nil
}

func testFlags() (*flag.FlagSet, *string, *int, *time.Duration, kv, *string) {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs)
	listen := fs.String("listen", "127.0.0.1:8083", "")
	n := fs.Int("max-neighbours", 10, "")
	d := fs.Duration("peer-timeout", 30*time.Second, "")
	m := kv{}
	fs.Var(m, "region-cidr", "")
	tok := fs.String("admin-token", "", "")
	return fs, listen, n, d, m, tok
}

const file = `
common: &common
  max-neighbours: 6
  peer-timeout: 45s
tracker:
  <<: *common
  listen: 0.0.0.0:9000
  region-cidr:
    10.1.0.0/16: eu-west
    10.2.0.0/16: us-east
edge:
  origin: http://x
`

func src(args []string, env map[string]string) Source {
	return Source{Command: "tracker", Args: args,
		Env:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Read: func(string) ([]byte, error) { return []byte(file), nil }}
}

func TestLayers(t *testing.T) {
	fs, listen, n, d, m, _ := testFlags()
	err := Load(fs, src([]string{"--config", "shoal.yaml", "--max-neighbours", "8"}, map[string]string{"SHOAL_LISTEN": "127.0.0.1:7000", "SHOAL_MAX_NEIGHBOURS": "7"}))
	if err != nil {
		t.Fatal(err)
	}
	// flags > env > file > defaults
	if *n != 8 || *listen != "127.0.0.1:7000" || *d != 45*time.Second || m["10.1.0.0/16"] != "eu-west" || len(m) != 2 {
		t.Fatalf("n %d listen %s d %v m %v", *n, *listen, *d, m)
	}
}

func TestConfigFromEnv(t *testing.T) {
	fs, listen, _, _, _, _ := testFlags()
	if err := Load(fs, src(nil, map[string]string{"SHOAL_CONFIG": "shoal.yaml"})); err != nil {
		t.Fatal(err)
	}
	if *listen != "0.0.0.0:9000" {
		t.Fatalf("listen %s", *listen)
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"tracker:\n  max-neighbors: 3\n", "tracker.max-neighbors: unknown key"},
		{"tracker:\n  max-neighbours: lots\n", "tracker.max-neighbours"},
		{"tracker:\n  peer-timeout: 5 parsecs\n", "tracker.peer-timeout"},
		{"trakcer:\n  listen: x\n", `unknown section "trakcer"`},
		{"tracker: 3\n", "want a mapping"},
		{"tracker:\n  region-cidr: [[1]]\n", "tracker.region-cidr"},
		{"tracker:\n  config: other.yaml\n", "tracker.config: unknown key"},
		{"tracker:\n  listen: a\n  listen: b\n", "listen"},
		{"tracker: [\n", "shoal.yaml"},
	} {
		fs, _, _, _, _, _ := testFlags()
		err := ApplyFile(fs, "tracker", "shoal.yaml", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestPrintConfigHidesSecrets(t *testing.T) {
	fs, _, _, _, _, _ := testFlags()
	var out strings.Builder
	fs.SetOutput(&out)
	err := Load(fs, src([]string{"--config=shoal.yaml", "--admin-token", "hunter2", "--print-config"}, nil))
	if !errors.Is(err, ErrPrinted) {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"tracker:\n", "  listen: 0.0.0.0:9000\n", "  max-neighbours: \"6\"\n", "  admin-token: (set)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") {
		t.Errorf("secret printed:\n%s", got)
	}
	// What it prints loads back to the same settings.
	fs2, _, n2, _, _, _ := testFlags()
	if err := ApplyFile(fs2, "tracker", "printed", []byte(strings.ReplaceAll(got, "(set)", "x"))); err != nil || *n2 != 6 {
		t.Fatalf("reload: %v n %d", err, *n2)
	}
}

func FuzzApplyFile(f *testing.F) {
	f.Add([]byte(file))
	f.Add([]byte("tracker:\n  listen: [a, b]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, _, _, _, _, _ := testFlags()
		ApplyFile(fs, "tracker", "fuzz.yaml", b) // must not panic
	})
}
