package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrKey reports an unusable key or key file.
var ErrKey = errors.New("manifest: bad key")

// LoadOrCreateKey reads the origin's signing key from path (the base64 of the 32-byte
// Ed25519 seed), or creates one there with mode 0600 if the file does not exist. A key
// file that others can read is refused, as ssh does.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: read key: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %o, want 600", ErrKey, path, st.Mode().Perm())
	}
	return ParsePrivateKey(b)
}

// ParsePrivateKey decodes the base64 of a 32-byte Ed25519 seed.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: want base64 of a %d-byte seed", ErrKey, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// createKey writes a new key atomically: a temporary file in the same folder, then rename,
// so a crash never leaves half a key behind.
func createKey(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("manifest: create key: %w", err)
	}
	f, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, fmt.Errorf("manifest: create key: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(priv.Seed()) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: create key: %w", err)
	}
	return priv, nil
}

// EncodePublicKey returns the body served at /live/{stream}/key: the base64 of the
// 32-byte Ed25519 public key and a newline.
func EncodePublicKey(pub ed25519.PublicKey) []byte {
	return []byte(base64.StdEncoding.EncodeToString(pub) + "\n")
}

// ParsePublicKey decodes what EncodePublicKey returns (surrounding space is ignored).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	k, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: want base64 of a %d-byte public key", ErrKey, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(k), nil
}
