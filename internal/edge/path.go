package edge

import (
	"fmt"
	"path"
	"strings"
)

// kind classifies an object by its path; it decides the cache lifetime and labels metrics.
type kind uint8

const (
	kindSegment  kind = iota // media segment (.ts, .m4s, ...): immutable
	kindInit                 // fMP4 init section (.mp4): immutable
	kindRecord               // signed piece-hash record (.rec): immutable
	kindOther                // anything else under a stream: immutable
	kindPlaylist             // .m3u8: micro-TTL
	kindKey                  // /live/{stream}/key: short TTL
	numKinds
)

var kindNames = [numKinds]string{"segment", "init", "record", "other", "playlist", "key"}

func (k kind) String() string { return kindNames[k] }

// immutable reports whether an object of kind k never changes under its URL.
func (k kind) immutable() bool { return k < kindPlaylist }

const (
	maxNameLen  = 64  // stream and rendition names, docs/architecture.md
	maxElemLen  = 128 // any other path element
	maxSubElems = 3   // path elements after the stream
)

// target is a validated request path.
type target struct {
	path   string // cleaned path, also the cache key and the origin path
	stream string
	kind   kind
}

// parsePath validates p against the /live/{stream}/... URL space: names from
// [A-Za-z0-9_-], elements from [A-Za-z0-9_.-] without dot-only elements, at most
// maxSubElems elements after the stream. Anything else is ErrBadPath, so nothing a client
// sends can reach another origin path.
func parsePath(p string) (target, error) {
	rest, ok := strings.CutPrefix(p, "/live/")
	if !ok {
		return target{}, fmt.Errorf("%w: %q is not under /live/", ErrBadPath, p)
	}
	elems := strings.Split(rest, "/")
	if len(elems) < 2 || len(elems) > 1+maxSubElems {
		return target{}, fmt.Errorf("%w: %q: want /live/{stream}/{file}", ErrBadPath, p)
	}
	stream := elems[0]
	if !validName(stream, maxNameLen, false) {
		return target{}, fmt.Errorf("%w: bad stream name %q", ErrBadPath, stream)
	}
	for _, e := range elems[1:] {
		if !validName(e, maxElemLen, true) || strings.Trim(e, ".") == "" {
			return target{}, fmt.Errorf("%w: bad path element %q", ErrBadPath, e)
		}
	}
	t := target{path: p, stream: stream}
	last := elems[len(elems)-1]
	switch ext := path.Ext(last); {
	case len(elems) == 2 && last == "key":
		t.kind = kindKey
	case ext == ".m3u8":
		t.kind = kindPlaylist
	case ext == ".rec":
		t.kind = kindRecord
	case ext == ".mp4":
		t.kind = kindInit
	case ext == ".ts" || ext == ".m4s" || ext == ".aac" || ext == ".mp3" || ext == ".vtt" || ext == ".m4a" || ext == ".m4v":
		t.kind = kindSegment
	default:
		t.kind = kindOther
	}
	return t, nil
}

func validName(s string, maxLen int, dots bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && dots:
		default:
			return false
		}
	}
	return true
}

// contentTypeFor is the Content-Type used when the origin sent none.
func contentTypeFor(p string, k kind) string {
	switch k {
	case kindPlaylist:
		return "application/vnd.apple.mpegurl"
	case kindInit:
		return "video/mp4"
	}
	switch path.Ext(p) {
	case ".ts":
		return "video/mp2t"
	case ".m4s":
		return "video/iso.segment"
	case ".aac":
		return "audio/aac"
	case ".mp3":
		return "audio/mpeg"
	case ".vtt":
		return "text/vtt"
	case ".m4a":
		return "audio/mp4"
	case ".m4v":
		return "video/mp4"
	}
	return "application/octet-stream"
}
