package peer

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/media"
)

// ErrPlaylist reports a media playlist the engine cannot follow.
var ErrPlaylist = errors.New("peer: bad playlist")

// livePlaylist is one parsed fetch of the rendition's media playlist.
type livePlaylist struct {
	target  time.Duration
	entries []engine.Entry // ascending seq
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
		e := engine.Entry{Seq: seq, Epoch: epoch, URI: rel, Dur: s.Duration}
		if s.DateTime != nil {
			e.PDT = *s.DateTime
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

// segmentSeq parses "{epoch}-{seq}.{ext}" of a proxy request.
func segmentSeq(name string) (string, uint64, bool) {
	epoch, seq, ext, init, err := media.ParseSegmentName(name)
	if err != nil || init || (ext != ".ts" && ext != ".m4s") {
		return "", 0, false
	}
	return epoch, seq, true
}
