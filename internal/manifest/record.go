// Package manifest builds, signs and verifies segment records: the per-piece SHA-256
// hashes of one published segment, signed by the origin with Ed25519 (docs/integrity.md).
// Peers verify every piece against a record before they play or forward it.
package manifest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// PieceSize is the size of every piece but a segment's last: piece i of a segment
// covers bytes [i*PieceSize, min((i+1)*PieceSize, size)).
const PieceSize = 16384

// Limits a decoder enforces before it allocates.
const (
	MaxSegmentSize = 256 << 20
	maxPieces      = MaxSegmentSize / PieceSize
	maxString      = 255
	maxURI         = 1024
)

var magic = [4]byte{'S', 'H', 'R', '1'}

// Sentinel errors.
var (
	ErrMalformed = errors.New("manifest: malformed record")
	ErrSignature = errors.New("manifest: bad signature")
	ErrPiece     = errors.New("manifest: piece hash mismatch")
	ErrRange     = errors.New("manifest: piece index out of range")
)

// Record describes one published segment. Its zero value describes nothing and
// verifies no data.
type Record struct {
	Stream, Rendition, Epoch string
	Seq                      uint64
	URI                      string // segment path relative to /live/{stream}/
	Size                     int64
	Duration                 time.Duration // encoded with microsecond precision
	PieceSize                uint32
	Hashes                   [][sha256.Size]byte // one per piece
}

// New builds the record of a segment's bytes.
func New(stream, rendition, epoch string, seq uint64, uri string, dur time.Duration, data []byte) *Record {
	r := &Record{
		Stream: stream, Rendition: rendition, Epoch: epoch, Seq: seq, URI: uri,
		Size: int64(len(data)), Duration: dur.Truncate(time.Microsecond), PieceSize: PieceSize,
	}
	for off := 0; off < len(data); off += PieceSize {
		r.Hashes = append(r.Hashes, sha256.Sum256(data[off:min(off+PieceSize, len(data))]))
	}
	return r
}

// Pieces returns the number of pieces of the segment.
func (r *Record) Pieces() int { return len(r.Hashes) }

// PieceLen returns the length of piece i, or 0 when i is out of range.
func (r *Record) PieceLen(i int) int {
	if i < 0 || i >= len(r.Hashes) {
		return 0
	}
	return int(min(int64(r.PieceSize), r.Size-int64(i)*int64(r.PieceSize)))
}

// VerifyPiece checks piece i's bytes against the record.
func (r *Record) VerifyPiece(i int, piece []byte) error {
	if i < 0 || i >= len(r.Hashes) {
		return fmt.Errorf("%w: %d of %d", ErrRange, i, len(r.Hashes))
	}
	if len(piece) != r.PieceLen(i) || sha256.Sum256(piece) != r.Hashes[i] {
		return fmt.Errorf("%w: %s seq %d piece %d", ErrPiece, r.Rendition, r.Seq, i)
	}
	return nil
}

// Verify checks a whole segment's bytes against the record.
func (r *Record) Verify(data []byte) error {
	if int64(len(data)) != r.Size {
		return fmt.Errorf("%w: size %d, record says %d", ErrPiece, len(data), r.Size)
	}
	for i := range r.Hashes {
		off := i * int(r.PieceSize)
		if err := r.VerifyPiece(i, data[off:off+r.PieceLen(i)]); err != nil {
			return err
		}
	}
	return nil
}

// Sign encodes the record and appends its Ed25519 signature: the body served as .rec.
func (r *Record) Sign(priv ed25519.PrivateKey) []byte {
	b := r.marshal()
	return append(b, ed25519.Sign(priv, b)...)
}

// marshal encodes the signed part of a record (docs/integrity.md has the byte layout).
func (r *Record) marshal() []byte {
	b := make([]byte, 0, 64+len(r.Stream)+len(r.Rendition)+len(r.Epoch)+len(r.URI)+len(r.Hashes)*sha256.Size)
	b = append(b, magic[:]...)
	b = appendStr8(b, r.Stream)
	b = appendStr8(b, r.Rendition)
	b = appendStr8(b, r.Epoch)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.URI)))
	b = append(b, r.URI...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Duration/time.Microsecond))
	b = binary.BigEndian.AppendUint32(b, r.PieceSize)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Hashes)))
	for _, h := range r.Hashes {
		b = append(b, h[:]...)
	}
	return b
}

func appendStr8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// Parse decodes a signed record and verifies its signature with pub.
func Parse(b []byte, pub ed25519.PublicKey) (*Record, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key of %d bytes", ErrSignature, len(pub))
	}
	if len(b) < ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	body, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	r, err := decode(body)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, body, sig) {
		return nil, ErrSignature
	}
	return r, nil
}

func decode(b []byte) (*Record, error) {
	d := decoder{b: b}
	if m := d.next(4); m == nil || [4]byte(m) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	r := &Record{Stream: d.str8(), Rendition: d.str8(), Epoch: d.str8(), Seq: d.u64()}
	r.URI = string(d.next(int(d.u16())))
	size, durUS := d.u64(), d.u64()
	r.PieceSize = d.u32()
	n := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	switch {
	case size == 0 || size > MaxSegmentSize:
		return nil, fmt.Errorf("%w: size %d", ErrMalformed, size)
	case r.PieceSize == 0 || r.PieceSize > MaxSegmentSize:
		return nil, fmt.Errorf("%w: piece size %d", ErrMalformed, r.PieceSize)
	case uint64(n) != (size+uint64(r.PieceSize)-1)/uint64(r.PieceSize):
		return nil, fmt.Errorf("%w: %d hashes for %d bytes", ErrMalformed, n, size)
	case durUS > uint64(24*time.Hour/time.Microsecond):
		return nil, fmt.Errorf("%w: duration %dus", ErrMalformed, durUS)
	case len(d.b) != int(n)*sha256.Size:
		return nil, fmt.Errorf("%w: %d hash bytes for %d hashes", ErrMalformed, len(d.b), n)
	}
	r.Size, r.Duration = int64(size), time.Duration(durUS)*time.Microsecond
	r.Hashes = make([][sha256.Size]byte, n)
	for i := range r.Hashes {
		r.Hashes[i] = [sha256.Size]byte(d.next(sha256.Size))
	}
	return r, nil
}

// decoder reads big-endian fields; after the first short read every read is empty and
// err is set, so callers check once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) next(n int) []byte {
	if d.err != nil || n > len(d.b) {
		if d.err == nil {
			d.err = fmt.Errorf("%w: truncated", ErrMalformed)
		}
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str8() string {
	n := d.next(1)
	if n == nil {
		return ""
	}
	return string(d.next(int(n[0])))
}

func (d *decoder) u16() uint16 {
	if v := d.next(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.next(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.next(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
