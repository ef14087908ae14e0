package edge

import "errors"

// Sentinel errors. Request-level errors are answered with a 4xx/5xx whose body is the
// error text, so a client (or an operator with curl) sees why.
var (
	// ErrNoOrigin is returned by New when Config.Origin is empty or not an absolute URL.
	ErrNoOrigin = errors.New("edge: origin must be an absolute http(s) URL")
	// ErrBadPath rejects a request path outside the /live/ URL space.
	ErrBadPath = errors.New("edge: bad path")
	// ErrNotFound means the origin answered 404 (or 410).
	ErrNotFound = errors.New("edge: not found at origin")
	// ErrUpstreamStatus means the origin answered an unexpected status.
	ErrUpstreamStatus = errors.New("edge: unexpected origin status")
	// ErrUpstream means the origin could not be reached or its body could not be read.
	ErrUpstream = errors.New("edge: origin unreachable")
	// ErrUpstreamTimeout means the origin did not answer within Config.UpstreamTimeout.
	ErrUpstreamTimeout = errors.New("edge: origin timed out")
	// ErrTooLarge means the origin's body exceeds Config.MaxObjectBytes.
	ErrTooLarge = errors.New("edge: origin object too large")
)
