package origin

import "errors"

// Sentinel errors.
var (
	// ErrConfig means a Config value is invalid.
	ErrConfig = errors.New("origin: invalid config")
	// ErrRunning is returned by Run when the origin is already running.
	ErrRunning = errors.New("origin: already running")
	// ErrStreamLimit means MaxStreams streams already exist.
	ErrStreamLimit = errors.New("origin: stream limit reached")
	// ErrRenditionLimit means a stream already has MaxRenditions renditions.
	ErrRenditionLimit = errors.New("origin: rendition limit reached")
	// ErrReserved means the stream is published by the demo source or a pull relay and
	// does not accept ingest.
	ErrReserved = errors.New("origin: stream is not open for ingest")
	// ErrUpstream means a pull relay's upstream answered with an error or bad data.
	ErrUpstream = errors.New("origin: upstream")
)

// Sentinel errors of titles (docs/vod.md).
var (
	// ErrBadTitle means a title on disk (store or VodDir) is incomplete or malformed;
	// it is refused and not served.
	ErrBadTitle = errors.New("origin: bad title")
	// ErrStoreFull means the store cannot hold more bytes even after evicting every
	// title that may be evicted.
	ErrStoreFull = errors.New("origin: store full")
	// ErrTitleExists means a title of that name exists.
	ErrTitleExists = errors.New("origin: title exists")
)
