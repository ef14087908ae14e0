package clusterwire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goldenDir = "../../testdata/cluster"

// newFor returns an empty message of the kind a golden file's name starts with.
func newFor(name string) Message {
	kind, _, _ := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
	switch kind {
	case "beat":
		return &Beat{}
	case "hello":
		return &Hello{}
	case "request":
		return &Request{}
	case "joinreply":
		return &JoinReply{}
	case "delivery":
		return &Delivery{}
	case "policy":
		return &PolicyChange{}
	case "streams":
		return &Streams{}
	case "storecall":
		return &StoreCall{}
	case "storereply":
		return &StoreReply{}
	}
	return nil
}

// TestGolden: every example decodes, validates and re-encodes to the same bytes.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if len(files) < 10 {
		t.Fatalf("golden files: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(raw, []byte("\n"))
			m := newFor(filepath.Base(f))
			if m == nil {
				t.Fatal("no message kind for this file name")
			}
			if err := Decode(want, m); err != nil {
				t.Fatal(err)
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

// TestInvalid: every file in invalid/ is refused with ErrBadMessage.
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "invalid", "*.json"))
	if len(files) < 5 {
		t.Fatalf("invalid files: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := Decode(raw, newFor(filepath.Base(f))); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("Decode = %v, want ErrBadMessage", err)
			}
		})
	}
}

// FuzzDecode: no input panics a decoder, and what one accepts re-encodes to bytes it
// accepts again.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	kinds := []func() Message{
		func() Message { return &Beat{} }, func() Message { return &Hello{} },
		func() Message { return &Request{} }, func() Message { return &JoinReply{} },
		func() Message { return &Delivery{} }, func() Message { return &PolicyChange{} },
		func() Message { return &Streams{} },
		func() Message { return &StoreCall{} }, func() Message { return &StoreReply{} },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range kinds {
			m := k()
			if Decode(b, m) != nil {
				continue
			}
			out, err := Encode(m)
			if err != nil {
				t.Fatalf("encode %T: %v", m, err)
			}
			if err := Decode(out, k()); err != nil {
				t.Fatalf("re-encoded %T refused: %v\n%s", m, err, out)
			}
		}
	})
}
