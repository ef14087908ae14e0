// Package config gives every shoal command one way to be configured: the defaults of
// its flags, then a YAML file, then SHOAL_* environment variables, then the command
// line, each overriding the one before. The flag set is the schema: a key of the file
// is a flag's name, so nothing can be set in one place and not another.
//
// The file has one section per command; YAML anchors share keys between them:
//
//	common: &common
//	  log-level: info
//	  play-secret: s3cret
//	tracker:
//	  <<: *common
//	  admin-token: t0ken
//	  region-cidr: {10.1.0.0/16: eu-west}
//	edge:
//	  <<: *common
//	  origin: http://origin:8081
//
// Sections of other commands are skipped; "common" (or any name starting with "x-")
// holds anchors. An unknown section, an unknown key in this command's section or a
// value its flag refuses is an error naming the key.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Flag names this package adds to every flag set (AddFlags).
const (
	FlagConfig      = "config"
	FlagPrintConfig = "print-config"
)

// MaxFileBytes bounds a config file: a real one is a few KiB.
const MaxFileBytes = 1 << 20

// ErrPrinted is returned by Load after --print-config printed the effective settings:
// the command should exit successfully without running.
var ErrPrinted = errors.New("config: printed")

// EnvName is the environment variable of a flag: --play-secret ↔ SHOAL_PLAY_SECRET.
func EnvName(flagName string) string {
	return "SHOAL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// AddFlags adds --config and --print-config to fs.
func AddFlags(fs *flag.FlagSet) {
	fs.String(FlagConfig, "", "YAML config file (section per command; see docs/config.md)")
	fs.Bool(FlagPrintConfig, false, "print the effective settings as YAML (secrets hidden) and exit")
}

// Source says where Load finds its layers. The zero value reads nothing but args.
type Source struct {
	Command string                       // section of the file for this command
	Args    []string                     // the command line
	Env     func(string) (string, bool)  // nil → no environment
	Read    func(string) ([]byte, error) // nil → os.ReadFile
}

// Load sets fs from the layers in order (defaults → file → env → args). The file is
// --config on the command line, else SHOAL_CONFIG. With --print-config it writes the
// effective settings to fs.Output() and returns ErrPrinted.
func Load(fs *flag.FlagSet, src Source) error {
	path := findConfigArg(src.Args)
	if path == "" && src.Env != nil {
		path, _ = src.Env(EnvName(FlagConfig))
	}
	if path != "" {
		read := src.Read
		if read == nil {
			read = readFile
		}
		b, err := read(path)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := ApplyFile(fs, src.Command, path, b); err != nil {
			return err
		}
	}
	if src.Env != nil {
		var err error
		fs.VisitAll(func(f *flag.Flag) {
			if v, ok := src.Env(EnvName(f.Name)); ok && err == nil {
				if e := fs.Set(f.Name, v); e != nil {
					err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, e)
				}
			}
		})
		if err != nil {
			return err
		}
	}
	if err := fs.Parse(src.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if f := fs.Lookup(FlagPrintConfig); f != nil && f.Value.String() == "true" {
		b, err := Effective(fs, src.Command)
		if err != nil {
			return err
		}
		fs.Output().Write(b)
		return ErrPrinted
	}
	return nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, at most %d", path, st.Size(), MaxFileBytes)
	}
	return os.ReadFile(path)
}

// findConfigArg returns the value of --config in args, if any (before flags are
// parsed: the file's values must go in first so that the command line can override).
func findConfigArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != FlagConfig {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// ApplyFile sets fs from the command's section of a YAML file (b, named path in errors).
func ApplyFile(fs *flag.FlagSet, command, path string, b []byte) error {
	if len(b) > MaxFileBytes {
		return fmt.Errorf("config: %s: %d bytes, at most %d", path, len(b), MaxFileBytes)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	names := slices.Sorted(mapKeys(doc))
	for _, section := range names {
		if !isSection(section) {
			return fmt.Errorf("config: %s: unknown section %q (want a command name: %s)", path, section, strings.Join(Commands, ", "))
		}
	}
	raw, ok := doc[command]
	if !ok || raw == nil {
		return nil
	}
	sec, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("config: %s: %s: want a mapping of flag names to values", path, command)
	}
	for _, key := range slices.Sorted(mapKeys(sec)) {
		if key == "<<" {
			continue
		}
		if key == FlagConfig || key == FlagPrintConfig || fs.Lookup(key) == nil {
			return fmt.Errorf("config: %s: %s.%s: unknown key (not a flag of shoal %s)", path, command, key, command)
		}
		vals, err := flagValues(sec[key])
		if err != nil {
			return fmt.Errorf("config: %s: %s.%s: %w", path, command, key, err)
		}
		for _, v := range vals {
			if err := fs.Set(key, v); err != nil {
				return fmt.Errorf("config: %s: %s.%s: invalid value %q: %w", path, command, key, v, err)
			}
		}
	}
	return nil
}

// Commands are the section names a file may hold (besides "common" and "x-…").
var Commands = []string{"up", "origin", "edge", "tracker", "peer", "turn", "bench"}

func isSection(name string) bool {
	return slices.Contains(Commands, name) || name == "common" || strings.HasPrefix(name, "x-")
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// flagValues turns a YAML value into what fs.Set takes: scalars as written, a list as
// one Set per element (repeatable flags), a mapping as NAME=VALUE pairs.
func flagValues(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, errors.New("empty value")
	case string:
		return []string{v}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case uint64:
		return []string{strconv.FormatUint(v, 10)}, nil
	case int64, int, uint:
		return []string{fmt.Sprint(v)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case []any:
		var out []string
		for _, e := range v {
			s, err := flagValues(e)
			if err != nil || len(s) != 1 {
				return nil, errors.New("a list may hold only scalars")
			}
			out = append(out, s...)
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			s, err := flagValues(v[k])
			if err != nil || len(s) != 1 {
				return nil, fmt.Errorf("%s: a mapping may hold only scalars", k)
			}
			out = append(out, k+"="+s[0])
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

// secretWords mark flags whose values --print-config hides.
var secretWords = []string{"secret", "token"}

// Effective renders fs's current values as the command's section of a config file,
// with secrets replaced by "(set)" so the output can be pasted into a ticket.
func Effective(fs *flag.FlagSet, command string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# effective settings of shoal %s (defaults → file → environment → flags)\n%s:\n", command, command)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == FlagConfig || f.Name == FlagPrintConfig {
			return
		}
		v := f.Value.String()
		if v == "" {
			fmt.Fprintf(&b, "  # %s: (not set)\n", f.Name)
			return
		}
		if isSecret(f.Name) {
			v = "(set)"
		}
		q, _ := yaml.Marshal(v)
		fmt.Fprintf(&b, "  %s: %s", f.Name, q)
	})
	return []byte(b.String()), nil
}

func isSecret(name string) bool {
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
