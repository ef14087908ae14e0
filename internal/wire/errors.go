package wire

import "errors"

// Decode errors. Every error Decode returns wraps exactly one of these, so callers
// (and the golden vectors) can classify it with errors.Is. All of them except
// ErrUnknownType are protocol violations: close the connection. A frame of an unknown
// type is ignored, for forward compatibility.
var (
	// ErrShort: the frame or one of its fields ends early.
	ErrShort = errors.New("wire: frame truncated")
	// ErrVersion: the frame's version byte is not Version.
	ErrVersion = errors.New("wire: unsupported version")
	// ErrUnknownType: the type byte names no message of this version; skip the frame.
	ErrUnknownType = errors.New("wire: unknown message type")
	// ErrTooLarge: the frame, a string, piece data, a bitfield or a count exceeds its limit.
	ErrTooLarge = errors.New("wire: exceeds limit")
	// ErrInvalid: a field holds a value the spec forbids (empty or malformed name,
	// zero count, range past MaxPieces, non-zero spare bits, trailing bytes, …).
	ErrInvalid = errors.New("wire: invalid field")
)
