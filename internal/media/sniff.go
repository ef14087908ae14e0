package media

import (
	"encoding/binary"
	"fmt"
)

const tsPacketSize = 188

// fmp4Boxes are the top-level ISO BMFF boxes a CMAF/fMP4 segment or init section may
// start with.
var fmp4Boxes = map[string]bool{
	"ftyp": true, "styp": true, "moof": true, "moov": true, "sidx": true,
	"emsg": true, "prft": true, "free": true, "skip": true, "mdat": true,
}

// Sniff checks that b looks like the container its extension promises: MPEG-TS (sync
// byte 0x47 at offsets 0 and 188) for KindTS, an ISO BMFF box header for KindFMP4 and
// KindInit. The error wraps ErrContainer.
func Sniff(kind FileKind, b []byte) error {
	switch kind {
	case KindTS:
		if len(b) < tsPacketSize {
			return fmt.Errorf("%w: MPEG-TS segment shorter than one packet (%d bytes)", ErrContainer, len(b))
		}
		if b[0] != 0x47 || (len(b) > tsPacketSize && b[tsPacketSize] != 0x47) {
			return fmt.Errorf("%w: no MPEG-TS sync byte 0x47 at offsets 0 and 188", ErrContainer)
		}
		return nil
	case KindFMP4, KindInit:
		if len(b) < 8 {
			return fmt.Errorf("%w: fMP4 data shorter than a box header (%d bytes)", ErrContainer, len(b))
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		if !fmp4Boxes[typ] {
			return fmt.Errorf("%w: first box %q is not an fMP4 box", ErrContainer, printable(typ))
		}
		if size == 1 {
			if len(b) < 16 {
				return fmt.Errorf("%w: truncated large box header", ErrContainer)
			}
			size = binary.BigEndian.Uint64(b[8:])
			if size < 16 {
				return fmt.Errorf("%w: box size %d too small", ErrContainer, size)
			}
		} else if size != 0 && size < 8 {
			return fmt.Errorf("%w: box size %d too small", ErrContainer, size)
		}
		if size > uint64(len(b)) {
			return fmt.Errorf("%w: first box (%d bytes) larger than the data (%d)", ErrContainer, size, len(b))
		}
		return nil
	}
	return fmt.Errorf("%w: not a segment kind", ErrContainer)
}

func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
