package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func segment(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func key(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestRoundTrip(t *testing.T) {
	pub, priv := key(t)
	for _, size := range []int{1, PieceSize - 1, PieceSize, PieceSize + 1, 375_000} {
		data := segment(size)
		r := New("demo", "index", "m1x2", 41, "index/m1x2-41.ts", 2002*time.Millisecond, data)
		got, err := Parse(r.Sign(priv), pub)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got.Stream != "demo" || got.Rendition != "index" || got.Epoch != "m1x2" || got.Seq != 41 ||
			got.URI != "index/m1x2-41.ts" || got.Size != int64(size) || got.Duration != 2002*time.Millisecond ||
			got.Pieces() != (size+PieceSize-1)/PieceSize {
			t.Fatalf("size %d: decoded %+v", size, got)
		}
		if err := got.Verify(data); err != nil {
			t.Fatalf("size %d: verify: %v", size, err)
		}
		last := got.Pieces() - 1
		if err := got.VerifyPiece(last, data[last*PieceSize:]); err != nil {
			t.Fatalf("size %d: last piece: %v", size, err)
		}
	}
}

// Every single modified byte of a segment fails verification of its piece.
func TestModifiedByteFails(t *testing.T) {
	data := segment(3*PieceSize + 100)
	r := New("demo", "index", "e", 1, "index/e-1.ts", time.Second, data)
	for _, off := range []int{0, 1, PieceSize - 1, PieceSize, 2*PieceSize + 5, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[off] ^= 0x01
		if err := r.Verify(bad); !errors.Is(err, ErrPiece) {
			t.Fatalf("byte %d flipped: Verify = %v", off, err)
		}
		i := off / PieceSize
		if err := r.VerifyPiece(i, bad[i*PieceSize:i*PieceSize+r.PieceLen(i)]); !errors.Is(err, ErrPiece) {
			t.Fatalf("byte %d flipped: VerifyPiece = %v", off, err)
		}
	}
	if err := r.VerifyPiece(0, data[:100]); !errors.Is(err, ErrPiece) {
		t.Fatalf("short piece: %v", err)
	}
	if err := r.VerifyPiece(4, nil); !errors.Is(err, ErrRange) {
		t.Fatalf("out of range: %v", err)
	}
}

func TestSignatureFailures(t *testing.T) {
	pub, priv := key(t)
	other, _ := key(t)
	signed := New("demo", "index", "e", 1, "index/e-1.ts", time.Second, segment(50_000)).Sign(priv)
	if _, err := Parse(signed, other); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	for i := range signed {
		bad := bytes.Clone(signed)
		bad[i] ^= 0x80
		if _, err := Parse(bad, pub); err == nil {
			t.Fatalf("byte %d flipped: record accepted", i)
		}
	}
	for _, n := range []int{0, 3, 10, len(signed) - 1} {
		if _, err := Parse(signed[:n], pub); err == nil {
			t.Fatalf("truncated to %d: record accepted", n)
		}
	}
}

func TestKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "origin.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, err %v", st.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reload: %v, equal %v", err, k1.Equal(k2))
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKey) {
		t.Fatalf("world-readable key accepted: %v", err)
	}
	pub := k1.Public().(ed25519.PublicKey)
	got, err := ParsePublicKey(EncodePublicKey(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	if _, err := ParsePublicKey([]byte("bm9wZQ==")); !errors.Is(err, ErrKey) {
		t.Fatalf("short public key: %v", err)
	}
}

// FuzzDecode checks that the record decoder never panics and that whatever it accepts
// re-encodes to the same bytes (so a signature covers exactly one record).
func FuzzDecode(f *testing.F) {
	_, priv := key(f)
	signed := New("demo", "index", "e", 1, "index/e-1.ts", time.Second, segment(40_000)).Sign(priv)
	f.Add(signed[:len(signed)-ed25519.SignatureSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
