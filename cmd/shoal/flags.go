package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-cdn/shoal/internal/config"
)

// newFlags returns a flag set whose usage lists each flag with its environment variable.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	config.AddFlags(fs)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: shoal %s [flags]\n\n%s\n\nFlags (environment variable in brackets):\n", name, synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(out, "  --%s [%s]\n        %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	return fs
}

func envName(flagName string) string { return config.EnvName(flagName) }

// parse applies the layers of internal/config: flag defaults, the --config file (or
// SHOAL_CONFIG), SHOAL_* environment variables, then the command line.
func parse(fs *flag.FlagSet, args []string) error {
	return config.Load(fs, config.Source{Command: fs.Name(), Args: args, Env: os.LookupEnv})
}

// logFlags adds --log-level and --log-format and returns a constructor for the logger.
func logFlags(fs *flag.FlagSet) func() *slog.Logger {
	level := &choice{val: "info", allowed: []string{"debug", "info", "warn", "error"}}
	format := &choice{val: "text", allowed: []string{"text", "json"}}
	fs.Var(level, "log-level", "debug, info, warn or error")
	fs.Var(format, "log-format", "text or json")
	return func() *slog.Logger {
		var l slog.Level
		if err := l.UnmarshalText([]byte(level.val)); err != nil {
			l = slog.LevelInfo
		}
		opts := &slog.HandlerOptions{Level: l}
		if format.val == "json" {
			return slog.New(slog.NewJSONHandler(os.Stderr, opts))
		}
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
}

// byteSize is a flag value such as "512MiB", "64M" or "1048576".
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a size such as 512MiB")
	}
	*b = byteSize(n * mult)
	return nil
}

// keyValues is a repeatable NAME=VALUE flag; in the environment, entries are comma separated.
type keyValues map[string]string

func (kv keyValues) String() string {
	var parts []string
	for k, v := range kv {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (kv keyValues) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" || v == "" {
			return fmt.Errorf("want NAME=VALUE, got %q", part)
		}
		kv[k] = v
	}
	return nil
}

// tlsFlags adds --tls-cert and --tls-key.
func tlsFlags(fs *flag.FlagSet) (cert, key *string) {
	return fs.String("tls-cert", "", "PEM certificate file: serve HTTPS (browsers need it for WebCrypto off localhost)"),
		fs.String("tls-key", "", "PEM private key file for --tls-cert")
}

// choice is a flag value restricted to a few words, so a typo in a flag, a variable
// or a config file is an error rather than a silent default.
type choice struct {
	val     string
	allowed []string
}

func (c *choice) String() string { return c.val }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
	}
	c.val = s
	return nil
}
