package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, fails with exactly one sentinel, and whatever it
// accepts is valid, encodes back to the very same bytes (the encoding is canonical) and
// decodes again to the same message. Seeds: testdata/fuzz/FuzzDecode (from the vectors).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{Version, byte(TypeChoke), 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		m, err := Decode(b)
		if !bytes.Equal(in, b) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned %#v with error %v", m, err)
			}
			if errorName(err) == "" {
				t.Fatalf("error %v wraps no single sentinel", err)
			}
			return
		}
		if err := Validate(m); err != nil {
			t.Fatalf("decoded %#v but Validate: %v", m, err)
		}
		out := Encode(nil, m)
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x, want %x", out, b)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoded %#v, want %#v", m2, m)
		}
	})
}
