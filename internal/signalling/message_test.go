package signalling

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/token"
)

const goldenDir = "../../testdata/tracker"

// TestGolden checks every example in testdata/tracker: it decodes and validates with
// the decoder of its direction, has the type its name says, and re-encodes to exactly
// the same bytes (the canonical form the TypeScript SDK reproduces).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("golden files: %v %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(raw, []byte("\n"))
			dir, rest, _ := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
			typ, _, _ := strings.Cut(rest, "-")
			decode := DecodeServer
			if dir == "client" {
				decode = DecodeClient
			}
			m, err := decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type() != typ {
				t.Fatalf("decoded a %q, file name says %q", m.Type(), typ)
			}
			got, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("re-encoded\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestGoldenJoinToken(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "client-join.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeClient(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The example token is signed with secret "example-secret" and expires 2026-01-01.
	if err := token.Verify([]byte("example-secret"), "demo", m.(*Join).Token, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenInvalid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "invalid", "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatalf("invalid examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := DecodeClient(raw); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("decoded %#v, %v; want ErrBadMessage", m, err)
			}
		})
	}
}

func TestEncodeEmpty(t *testing.T) {
	b, err := Encode(&Leave{})
	if err != nil || string(b) != `{"type":"leave"}` {
		t.Fatalf("%s %v", b, err)
	}
}

// roundTrip is the property both fuzz targets check: anything accepted re-encodes to a
// message that decodes to the same value and encodes to the same bytes.
func roundTrip(t *testing.T, decode func([]byte) (Message, error), b []byte) {
	m, err := decode(b)
	if err != nil {
		if !errors.Is(err, ErrBadMessage) {
			t.Fatalf("error not wrapping ErrBadMessage: %v", err)
		}
		return
	}
	enc, err := Encode(m)
	if err != nil {
		t.Fatalf("encode accepted %#v: %v", m, err)
	}
	m2, err := decode(enc)
	if err != nil {
		t.Fatalf("re-decode %s: %v", enc, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed %#v into %#v", m, m2)
	}
	enc2, _ := Encode(m2)
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("unstable encoding %s vs %s", enc, enc2)
	}
}

func addGoldenSeeds(f *testing.F, prefix string) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, prefix+"*.json"))
	inv, _ := filepath.Glob(filepath.Join(goldenDir, "invalid", "*.json"))
	for _, p := range append(files, inv...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func FuzzDecodeClient(f *testing.F) {
	addGoldenSeeds(f, "client-")
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, DecodeClient, b) })
}

func FuzzDecodeServer(f *testing.F) {
	addGoldenSeeds(f, "server-")
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, DecodeServer, b) })
}
