package tracker

import "errors"

// ErrBadConfig: New refused its Config.
var ErrBadConfig = errors.New("tracker: bad config")
