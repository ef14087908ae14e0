package peer

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// ErrPlaylist reports a media playlist the engine cannot follow.
var ErrPlaylist = errors.New("peer: bad playlist")

// entry is one segment listed in the rendition's playlist.
type entry struct {
	seq   uint64
	epoch string
	uri   string // relative to /live/{stream}/, e.g. "index/mabc12-41.ts"
	dur   time.Duration
	pdt   time.Time // EXT-X-PROGRAM-DATE-TIME, zero if absent
}

// livePlaylist is one parsed fetch of the rendition's media playlist.
type livePlaylist struct {
	target  time.Duration
	entries []entry // ascending seq
	ended   bool
	raw     []byte // as served to local players (URIs made relative)
}

// parsePlaylist parses the edge's media playlist of rendition and checks that
// every segment follows the published naming scheme
// ({rendition}/{epoch}-{seq}.{ext}, seq = media sequence + index).
func parsePlaylist(b []byte, rendition string) (*livePlaylist, error) {
	m, err := media.ParseMedia(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlaylist, err)
	}
	pl := &livePlaylist{target: time.Duration(m.TargetDuration) * time.Second, ended: m.Endlist}
	for i, s := range m.Segments {
		rel := relURI(s.URI)
		dir, name := path.Split(rel)
		if dir != rendition+"/" {
			return nil, fmt.Errorf("%w: segment %q is not under %s/", ErrPlaylist, s.URI, rendition)
		}
		epoch, seq, _, init, err := media.ParseSegmentName(name)
		if err != nil || init {
			return nil, fmt.Errorf("%w: segment %q: not a published segment name", ErrPlaylist, s.URI)
		}
		if want := uint64(m.MediaSequence) + uint64(i); seq != want {
			return nil, fmt.Errorf("%w: segment %q has seq %d, playlist says %d", ErrPlaylist, s.URI, seq, want)
		}
		if s.Duration <= 0 {
			return nil, fmt.Errorf("%w: segment %q without a duration", ErrPlaylist, s.URI)
		}
		e := entry{seq: seq, epoch: epoch, uri: rel, dur: s.Duration}
		if s.DateTime != nil {
			e.pdt = *s.DateTime
		}
		pl.entries = append(pl.entries, e)
	}
	pl.raw = rewritePlaylist(b)
	return pl, nil
}

// relURI turns a segment URI as the edge wrote it (relative, possibly with a
// ?token= query, or absolute) into a path relative to /live/{stream}/.
func relURI(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "/live/"); i >= 0 {
		rest := u[i+len("/live/"):]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j+1:]
		}
	}
	return u
}

// rewritePlaylist makes every URI (segment lines and URI="…" attributes)
// relative to /live/{stream}/ and drops query strings, so a player that loaded
// the playlist from the local proxy asks the proxy for every segment.
func rewritePlaylist(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b))
	for line := range bytes.Lines(b) {
		text := strings.TrimRight(string(line), "\r\n")
		switch {
		case text == "":
		case !strings.HasPrefix(text, "#"):
			text = relURI(text)
		case strings.Contains(text, `URI="`):
			i := strings.Index(text, `URI="`) + len(`URI="`)
			if j := strings.IndexByte(text[i:], '"'); j >= 0 {
				text = text[:i] + relURI(text[i:i+j]) + text[i+j:]
			}
		}
		out.WriteString(text)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// pollInterval is half the target duration, clamped to [250 ms, 5 s].
func pollInterval(target time.Duration) time.Duration {
	return min(5*time.Second, max(250*time.Millisecond, target/2))
}

// segmentSeq parses "{epoch}-{seq}.{ext}" of a proxy request.
func segmentSeq(name string) (string, uint64, bool) {
	epoch, seq, ext, init, err := media.ParseSegmentName(name)
	if err != nil || init || (ext != ".ts" && ext != ".m4s") {
		return "", 0, false
	}
	return epoch, seq, true
}

// published estimates when the origin published e, for the player model: the
// end of its media on the wall clock (PROGRAM-DATE-TIME + duration) when that
// is plausible (within a minute before we saw it: clocks roughly agree), else
// the moment we first saw it. The PDT makes every peer agree on publication
// times whatever its polling phase and the edge's playlist cache.
func (e entry) published(seen time.Time) time.Time {
	if e.pdt.IsZero() {
		return seen
	}
	t := e.pdt.Add(e.dur)
	if t.After(seen) || t.Before(seen.Add(-time.Minute)) {
		return seen
	}
	return t
}
