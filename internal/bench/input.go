package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// ErrInput reports an input directory the bench cannot publish.
var ErrInput = errors.New("bench: bad input")

// Bounds on an input: it is held in memory for the whole invocation.
const (
	maxInputBytes    = 1 << 30
	maxInputSegments = 10_000
)

// inputStream is the stream name of a run published from an input.
const inputStream = "input"

// source is a stream the bench publishes: segment n's bytes and duration.
type source func(n int) (data []byte, dur time.Duration)

// input is an encoded rendition read from a directory (an encoder's HLS
// output, e.g. `ffmpeg -f hls`), published by the bench as if live: its
// segments in playlist order, then again from the first (the bench does not
// decode, so the timestamps' jump at the wrap costs nothing but is there).
type input struct {
	segs []inputSeg
}

type inputSeg struct {
	data []byte
	dur  time.Duration
}

// loadInput reads dir's media playlist (index.m3u8, else the only *.m3u8)
// and every segment it lists. fMP4 renditions are refused: the bench's
// stream has no init section.
func loadInput(dir string) (*input, error) {
	pl, err := inputPlaylist(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(pl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	p, err := media.ParseMedia(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInput, pl, err)
	}
	if p.Map != nil {
		return nil, fmt.Errorf("%w: %s is fMP4 (EXT-X-MAP); the bench publishes MPEG-TS only", ErrInput, pl)
	}
	if len(p.Segments) == 0 || len(p.Segments) > maxInputSegments {
		return nil, fmt.Errorf("%w: %s lists %d segments (want 1..%d)", ErrInput, pl, len(p.Segments), maxInputSegments)
	}
	in := &input{}
	var total int64
	for _, s := range p.Segments {
		if s.ByteRangeLength != nil {
			return nil, fmt.Errorf("%w: %s: segment %s is a byte range; the bench publishes whole files", ErrInput, pl, s.URI)
		}
		if s.Duration <= 0 {
			return nil, fmt.Errorf("%w: %s: segment %s has duration %v", ErrInput, pl, s.URI, s.Duration)
		}
		if strings.Contains(s.URI, "://") || filepath.IsAbs(s.URI) || !filepath.IsLocal(s.URI) {
			return nil, fmt.Errorf("%w: %s: segment %q is not a file in the directory", ErrInput, pl, s.URI)
		}
		data, err := os.ReadFile(filepath.Join(dir, s.URI))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInput, err)
		}
		if total += int64(len(data)); total > maxInputBytes {
			return nil, fmt.Errorf("%w: %s: more than %d bytes of segments", ErrInput, pl, maxInputBytes)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: %s: segment %s is empty", ErrInput, pl, s.URI)
		}
		in.segs = append(in.segs, inputSeg{data: data, dur: s.Duration})
	}
	return in, nil
}

func inputPlaylist(dir string) (string, error) {
	if st, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInput, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", ErrInput, dir)
	}
	idx := filepath.Join(dir, "index.m3u8")
	if _, err := os.Stat(idx); err == nil {
		return idx, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %w", ErrInput, err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "*.m3u8"))
	if len(m) != 1 {
		return "", fmt.Errorf("%w: %s holds %d playlists and no index.m3u8 (want one media playlist)", ErrInput, dir, len(m))
	}
	return m[0], nil
}

// segment is the input as a source: it loops.
func (in *input) segment(n int) ([]byte, time.Duration) {
	s := in.segs[n%len(in.segs)]
	return s.data, s.dur
}

// bitrate is the input's mean rate in bit/s.
func (in *input) bitrate() float64 {
	var bytes int64
	var dur time.Duration
	for _, s := range in.segs {
		bytes += int64(len(s.data))
		dur += s.dur
	}
	return float64(bytes*8) / dur.Seconds()
}
