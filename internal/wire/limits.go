package wire

// Protocol constants of version 1 (docs/wire.md, "Limits").
const (
	// Version is the only frame version this package speaks.
	Version = 1

	// PieceSize is the size of every piece but a segment's last; piece i covers bytes
	// [i*PieceSize, min((i+1)*PieceSize, size)). Equal to manifest.PieceSize.
	PieceSize = 16384

	// MaxPieces bounds the pieces of one segment: 256 MiB, the largest segment a signed
	// record describes (docs/integrity.md). A piece index is below MaxPieces and a
	// bitfield holds at most MaxPieces/8 = 2048 bytes.
	MaxPieces = 16384

	// MaxRequestPieces bounds the count of one REQUEST (4 MiB).
	MaxRequestPieces = 256

	// MaxOutstanding bounds the pieces a peer may have requested from one neighbour and
	// not yet received, rejected, cancelled or had voided by CHOKE.
	MaxOutstanding = 256

	// MaxEpochLen bounds an epoch string; epochs are lowercase base36.
	MaxEpochLen = 16

	// MaxSubstreams bounds a SUBSCRIBE's substream count (its mask is a u32).
	MaxSubstreams = 32

	// MaxNameLen bounds stream, rendition and peer id strings.
	MaxNameLen = 64

	// MaxFrameSize bounds a whole frame. The largest valid frame is a PIECE with a
	// 16-byte epoch and a full piece: 2 + 25 + 4 + 16384 = 16415 bytes.
	MaxFrameSize = 2 + segmentIDMaxLen + 4 + PieceSize

	segmentIDMaxLen = 1 + MaxEpochLen + 8
)
