package media

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// MaxNameLength is the longest stream or rendition name.
const MaxNameLength = 64

// MaxFileDepth is the deepest folder nesting accepted in an ingested file path.
const MaxFileDepth = 4

// ValidName reports whether s is a valid stream or rendition name:
// [A-Za-z0-9_-]{1,64}.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// FileKind is what an ingested file is, judged by its extension.
type FileKind int

// File kinds accepted at ingest.
const (
	KindPlaylist FileKind = iota + 1 // .m3u8
	KindTS                           // .ts MPEG-TS segment
	KindFMP4                         // .m4s fragmented MP4 segment
	KindInit                         // .mp4 fMP4 initialisation section
)

// Ext is the published extension of a segment of this kind (".ts", ".m4s", ".mp4").
func (k FileKind) Ext() string {
	switch k {
	case KindPlaylist:
		return ".m3u8"
	case KindTS:
		return ".ts"
	case KindFMP4:
		return ".m4s"
	case KindInit:
		return ".mp4"
	}
	return ""
}

// ContentType is the MIME type served for files of this kind.
func (k FileKind) ContentType() string {
	switch k {
	case KindPlaylist:
		return "application/vnd.apple.mpegurl"
	case KindTS:
		return "video/mp2t"
	case KindFMP4:
		return "video/iso.segment"
	case KindInit:
		return "video/mp4"
	}
	return "application/octet-stream"
}

// CheckFilePath validates a file path below /ingest/{stream}/ and returns its kind.
// Paths are relative, slash-separated, at most MaxFileDepth levels deep; every element
// is [A-Za-z0-9_.-]+ without a leading dot (so no "..", no hidden files, no absolute
// paths); the extension must be .m3u8, .ts, .m4s or .mp4.
func CheckFilePath(p string) (FileKind, error) {
	if p == "" || len(p) > 255 {
		return 0, fmt.Errorf("%w: file path length %d", ErrName, len(p))
	}
	elems := strings.Split(p, "/")
	if len(elems) > MaxFileDepth {
		return 0, fmt.Errorf("%w: file path %q nested too deep", ErrName, p)
	}
	for _, e := range elems {
		if e == "" {
			return 0, fmt.Errorf("%w: file path %q has an empty element or is absolute", ErrName, p)
		}
		if e[0] == '.' {
			return 0, fmt.Errorf("%w: file path %q: element %q starts with a dot", ErrName, p, e)
		}
		for i := 0; i < len(e); i++ {
			c := e[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
			default:
				return 0, fmt.Errorf("%w: file path %q contains byte %#x", ErrName, p, c)
			}
		}
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".m3u8":
		return KindPlaylist, nil
	case ".ts":
		return KindTS, nil
	case ".m4s":
		return KindFMP4, nil
	case ".mp4":
		return KindInit, nil
	}
	return 0, fmt.Errorf("%w: file %q: extension must be .m3u8, .ts, .m4s or .mp4", ErrName, p)
}

// RenditionName derives the rendition name of an ingested media playlist from its
// path: "index.m3u8" → "index", "index_1.m3u8" → "index_1", "v1/index.m3u8" →
// "v1-index".
func RenditionName(playlistPath string) (string, error) {
	name, ok := strings.CutSuffix(playlistPath, ".m3u8")
	if !ok {
		return "", fmt.Errorf("%w: %q is not a .m3u8 path", ErrName, playlistPath)
	}
	name = strings.ReplaceAll(name, "/", "-")
	if !ValidName(name) {
		return "", fmt.Errorf("%w: rendition %q must match [A-Za-z0-9_-]{1,64}", ErrName, name)
	}
	return name, nil
}

// ResolveRelative resolves a playlist-relative URI against the folder of the playlist
// at base (both relative to the stream's ingest root) and validates the result with
// CheckFilePath. URIs with a scheme, a query or an absolute path are rejected: an
// encoder pushing to us refers to files it pushes next to the playlist.
func ResolveRelative(base, uri string) (string, FileKind, error) {
	if strings.ContainsAny(uri, ":?#\\") || strings.HasPrefix(uri, "/") {
		return "", 0, fmt.Errorf("%w: URI %q must be relative to the playlist", ErrName, uri)
	}
	p := uri
	if dir := path.Dir(base); dir != "." {
		p = dir + "/" + uri
	}
	if path.Clean(p) != p {
		return "", 0, fmt.Errorf("%w: URI %q is not a clean path", ErrName, uri)
	}
	k, err := CheckFilePath(p)
	if err != nil {
		return "", 0, err
	}
	return p, k, nil
}

// NewEpoch returns the epoch for a (re)connection at now: lowercase base36 of the Unix
// time in milliseconds, bumped past prev (the stream's previous epoch's milliseconds, 0
// for none) so that epochs of one stream never repeat. It returns the epoch and the
// milliseconds value to pass as prev next time.
func NewEpoch(now time.Time, prev int64) (string, int64) {
	ms := now.UnixMilli()
	if ms <= prev {
		ms = prev + 1
	}
	return strconv.FormatInt(ms, 36), ms
}

// SegmentName is the published file name of a segment: "{epoch}-{seq}{ext}".
func SegmentName(epoch string, seq uint64, ext string) string {
	return epoch + "-" + strconv.FormatUint(seq, 10) + ext
}

// InitName is the published file name of an epoch's fMP4 init section.
func InitName(epoch string) string { return epoch + "-init.mp4" }

// ParseSegmentName splits a published name "{epoch}-{seq}.{ext}" or
// "{epoch}-init.mp4". For an init section seq is 0 and init is true.
func ParseSegmentName(name string) (epoch string, seq uint64, ext string, init bool, err error) {
	dot := strings.LastIndexByte(name, '.')
	dash := strings.LastIndexByte(name, '-')
	if dot < 0 || dash <= 0 || dash > dot {
		return "", 0, "", false, fmt.Errorf("%w: segment name %q", ErrName, name)
	}
	epoch, mid, ext := name[:dash], name[dash+1:dot], name[dot:]
	for i := 0; i < len(epoch); i++ {
		if c := epoch[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return "", 0, "", false, fmt.Errorf("%w: segment name %q: epoch is not base36", ErrName, name)
		}
	}
	if len(epoch) > 16 {
		return "", 0, "", false, fmt.Errorf("%w: segment name %q: epoch too long", ErrName, name)
	}
	if mid == "init" {
		if ext != ".mp4" {
			return "", 0, "", false, fmt.Errorf("%w: init section %q must end in .mp4", ErrName, name)
		}
		return epoch, 0, ext, true, nil
	}
	if mid == "" || len(mid) > 20 || (len(mid) > 1 && mid[0] == '0') {
		return "", 0, "", false, fmt.Errorf("%w: segment name %q: bad sequence number", ErrName, name)
	}
	seq, err = strconv.ParseUint(mid, 10, 64)
	if err != nil {
		return "", 0, "", false, fmt.Errorf("%w: segment name %q: %v", ErrName, name, err)
	}
	switch ext {
	case ".ts", ".m4s", ".rec":
	default:
		return "", 0, "", false, fmt.Errorf("%w: segment name %q: extension", ErrName, name)
	}
	return epoch, seq, ext, false, nil
}
