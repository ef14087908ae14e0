package media

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Limits enforced on ingested playlists on top of gohlslib's own checks. They keep a
// hostile or broken encoder from making the origin hold absurd state.
const (
	// MaxSegments is the largest number of segments an ingested media playlist may list.
	MaxSegments = 10000
	// MaxVariants is the largest number of variants plus renditions in a multivariant
	// playlist.
	MaxVariants = 64
	// MaxSegmentDuration is the longest EXTINF accepted.
	MaxSegmentDuration = 10 * time.Minute
	// MaxURILength bounds every URI inside a playlist.
	MaxURILength = 1024
)

// Parse parses and validates an ingested playlist. The result is either a
// *playlist.Media or a *playlist.Multivariant. Every error wraps ErrPlaylist or
// ErrUnsupported.
func Parse(b []byte) (pl playlist.Playlist, err error) {
	// gohlslib is not meant to face hostile input; never let a bug there take the
	// origin down.
	defer func() {
		if r := recover(); r != nil {
			pl, err = nil, fmt.Errorf("%w: parser panic: %v", ErrPlaylist, r)
		}
	}()
	if !strings.HasPrefix(string(b), "#EXTM3U") {
		return nil, fmt.Errorf("%w: missing #EXTM3U header", ErrPlaylist)
	}
	pl, err = playlist.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlaylist, err)
	}
	switch p := pl.(type) {
	case *playlist.Media:
		err = validateMedia(p)
	case *playlist.Multivariant:
		err = validateMultivariant(p)
	default:
		err = fmt.Errorf("%w: unknown playlist type", ErrPlaylist)
	}
	if err != nil {
		return nil, err
	}
	return pl, nil
}

// ParseMedia is Parse restricted to media playlists.
func ParseMedia(b []byte) (*playlist.Media, error) {
	pl, err := Parse(b)
	if err != nil {
		return nil, err
	}
	m, ok := pl.(*playlist.Media)
	if !ok {
		return nil, fmt.Errorf("%w: expected a media playlist, got a multivariant playlist", ErrPlaylist)
	}
	return m, nil
}

// ParseMultivariant is Parse restricted to multivariant playlists.
func ParseMultivariant(b []byte) (*playlist.Multivariant, error) {
	pl, err := Parse(b)
	if err != nil {
		return nil, err
	}
	m, ok := pl.(*playlist.Multivariant)
	if !ok {
		return nil, fmt.Errorf("%w: expected a multivariant playlist, got a media playlist", ErrPlaylist)
	}
	return m, nil
}

func validateMedia(m *playlist.Media) error {
	if m.TargetDuration <= 0 || time.Duration(m.TargetDuration)*time.Second > MaxSegmentDuration {
		return fmt.Errorf("%w: target duration %d out of range", ErrPlaylist, m.TargetDuration)
	}
	if len(m.Segments) > MaxSegments {
		return fmt.Errorf("%w: %d segments (max %d)", ErrPlaylist, len(m.Segments), MaxSegments)
	}
	if m.MediaSequence < 0 || m.MediaSequence > math.MaxInt32 {
		return fmt.Errorf("%w: media sequence %d out of range", ErrPlaylist, m.MediaSequence)
	}
	if m.Map != nil {
		if err := checkURI(m.Map.URI); err != nil {
			return fmt.Errorf("%w: EXT-X-MAP: %v", ErrPlaylist, err)
		}
		if m.Map.ByteRangeLength != nil {
			return fmt.Errorf("%w: EXT-X-MAP with BYTERANGE", ErrUnsupported)
		}
	}
	for i, s := range m.Segments {
		if s.Duration <= 0 || s.Duration > MaxSegmentDuration {
			return fmt.Errorf("%w: segment %d: duration %v out of range", ErrPlaylist, i, s.Duration)
		}
		if err := checkURI(s.URI); err != nil {
			return fmt.Errorf("%w: segment %d: %v", ErrPlaylist, i, err)
		}
		if s.ByteRangeLength != nil {
			return fmt.Errorf("%w: EXT-X-BYTERANGE", ErrUnsupported)
		}
		if s.Key != nil && s.Key.Method != playlist.MediaKeyMethodNone {
			return fmt.Errorf("%w: encrypted segments (EXT-X-KEY)", ErrUnsupported)
		}
	}
	return nil
}

func validateMultivariant(m *playlist.Multivariant) error {
	if n := len(m.Variants) + len(m.Renditions); n > MaxVariants {
		return fmt.Errorf("%w: %d variants and renditions (max %d)", ErrPlaylist, n, MaxVariants)
	}
	for i, v := range m.Variants {
		if err := checkURI(v.URI); err != nil {
			return fmt.Errorf("%w: variant %d: %v", ErrPlaylist, i, err)
		}
		if !validResolution(v.Resolution) {
			return fmt.Errorf("%w: variant %d: RESOLUTION %q", ErrPlaylist, i, v.Resolution)
		}
		if v.FrameRate != nil && !(*v.FrameRate > 0 && *v.FrameRate < 1000) {
			return fmt.Errorf("%w: variant %d: FRAME-RATE out of range", ErrPlaylist, i)
		}
		attrs := append([]string{v.Video, v.Audio, v.Subtitles, v.ClosedCaptions}, v.Codecs...)
		if err := checkAttrs(attrs...); err != nil {
			return fmt.Errorf("%w: variant %d: %v", ErrPlaylist, i, err)
		}
	}
	for i, r := range m.Renditions {
		if r.URI != nil {
			if err := checkURI(*r.URI); err != nil {
				return fmt.Errorf("%w: rendition %d: %v", ErrPlaylist, i, err)
			}
		}
		attrs := []string{r.GroupID, r.Name, r.Language}
		for _, p := range []*string{r.Channels, r.InStreamID} {
			if p != nil {
				attrs = append(attrs, *p)
			}
		}
		if err := checkAttrs(attrs...); err != nil {
			return fmt.Errorf("%w: rendition %d: %v", ErrPlaylist, i, err)
		}
	}
	return nil
}

// checkAttrs rejects attribute values that would not survive being written back
// (RewriteMultivariant quotes them).
func checkAttrs(vals ...string) error {
	for _, v := range vals {
		if len(v) > MaxURILength {
			return fmt.Errorf("attribute longer than %d bytes", MaxURILength)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c == 0x7f || c == '"' {
				return fmt.Errorf("attribute contains byte %#x", c)
			}
		}
	}
	return nil
}

func checkURI(u string) error {
	if u == "" {
		return fmt.Errorf("empty URI")
	}
	if len(u) > MaxURILength {
		return fmt.Errorf("URI longer than %d bytes", MaxURILength)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c < 0x20 || c == 0x7f || c == '"' {
			return fmt.Errorf("URI contains byte %#x", c)
		}
	}
	return nil
}

// validResolution accepts "" or DECIMAL "x" DECIMAL.
func validResolution(r string) bool {
	if r == "" {
		return true
	}
	w, h, ok := strings.Cut(r, "x")
	return ok && isDigits(w) && isDigits(h)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
