package webtorrent

import "errors"

// ErrBadMessage is wrapped by every decoding error. Its reason (Reason) is what the
// tracker sends back as the "failure reason", in the library's words where it has them.
var ErrBadMessage = errors.New("webtorrent: bad message")

// DecodeError is a request the tracker refuses. Reason is the failure reason to send;
// Action and InfoHash are set when the library would answer in its request form
// ({"action","failure reason","info_hash"}: an invalid event), empty for its parse
// form ({"failure reason"} alone).
type DecodeError struct {
	Reason   string
	Action   string
	InfoHash string
}

func (e *DecodeError) Error() string { return "webtorrent: " + e.Reason }

// Is makes errors.Is(err, ErrBadMessage) true.
func (e *DecodeError) Is(target error) bool { return target == ErrBadMessage }

// FailureOf returns the reply to a request that failed to decode with err.
func FailureOf(err error) *Failure {
	var d *DecodeError
	if errors.As(err, &d) {
		return &Failure{Action: d.Action, Reason: d.Reason, InfoHash: d.InfoHash}
	}
	if err == nil {
		return &Failure{Reason: "invalid request"}
	}
	return &Failure{Reason: err.Error()}
}

func bad(reason string) error { return &DecodeError{Reason: reason} }
