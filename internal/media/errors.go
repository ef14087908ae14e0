package media

import "errors"

// Sentinel errors. Parse errors wrap one of these so that callers can map them to a
// rejection reason without string matching.
var (
	// ErrPlaylist means the bytes are not a valid HLS playlist.
	ErrPlaylist = errors.New("media: invalid playlist")
	// ErrUnsupported means a valid playlist uses a feature shoal does not publish
	// (encryption, byte ranges).
	ErrUnsupported = errors.New("media: unsupported playlist feature")
	// ErrName means a stream, rendition, file or segment name is not acceptable.
	ErrName = errors.New("media: invalid name")
	// ErrContainer means segment bytes are neither MPEG-TS nor fragmented MP4.
	ErrContainer = errors.New("media: unrecognised segment container")
)
