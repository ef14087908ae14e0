package wire

import "strconv"

// SegmentID names a segment within the connection's swarm: the epoch (lowercase
// base36, 1..MaxEpochLen bytes) and the media sequence number (docs/architecture.md).
// It is comparable, so it can key maps.
type SegmentID struct {
	Epoch string
	Seq   uint64
}

// String returns "epoch-seq", the segment's file name stem.
func (s SegmentID) String() string {
	return s.Epoch + "-" + strconv.FormatUint(s.Seq, 10)
}

func isEpochByte(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' }

// isNameByte: stream and rendition names, [A-Za-z0-9_-].
func isNameByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

// isPeerIDByte: URL-unreserved characters, [A-Za-z0-9._~-].
func isPeerIDByte(c byte) bool { return isNameByte(c) || c == '.' || c == '~' }
