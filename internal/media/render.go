package media

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Segment is one entry of a published media playlist.
type Segment struct {
	URI           string
	Duration      time.Duration
	Discontinuity bool // #EXT-X-DISCONTINUITY before this segment
	// Map is the EXT-X-MAP URI in effect for this segment (fMP4), "" for MPEG-TS. It is
	// written before the first segment and wherever it changes.
	Map string
	// ProgramDateTime is the wall-clock time of the segment's first sample; zero omits
	// #EXT-X-PROGRAM-DATE-TIME.
	ProgramDateTime time.Time
}

// MediaPlaylist is a published media playlist.
type MediaPlaylist struct {
	// TargetDuration in whole seconds; 0 means computed from the segments.
	TargetDuration        int
	MediaSequence         uint64
	DiscontinuitySequence uint64
	Segments              []Segment
	Ended                 bool // #EXT-X-ENDLIST
	// VOD writes #EXT-X-PLAYLIST-TYPE:VOD: the playlist is a whole title that never
	// changes (set with Ended).
	VOD bool
}

// TargetDuration is the smallest valid EXT-X-TARGETDURATION for durations: every
// duration rounded to the nearest second must not exceed it (RFC 8216 4.3.3.1). It is
// at least 1.
func TargetDuration(durations ...time.Duration) int {
	t := 1
	for _, d := range durations {
		if s := int(math.Round(d.Seconds())); s > t {
			t = s
		}
	}
	return t
}

// Render writes the playlist in the form RFC 8216 expects of a live (or ended) media
// playlist. The version is 3 for MPEG-TS and 7 when any segment uses EXT-X-MAP.
func (p *MediaPlaylist) Render() []byte {
	version := 3
	td := p.TargetDuration
	for _, s := range p.Segments {
		if s.Map != "" {
			version = 7
		}
		if t := TargetDuration(s.Duration); t > td {
			td = t
		}
	}
	if td < 1 {
		td = 1
	}
	var b bytes.Buffer
	b.Grow(128 + 96*len(p.Segments))
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:")
	b.WriteString(strconv.Itoa(version))
	b.WriteString("\n#EXT-X-TARGETDURATION:")
	b.WriteString(strconv.Itoa(td))
	b.WriteString("\n#EXT-X-MEDIA-SEQUENCE:")
	b.WriteString(strconv.FormatUint(p.MediaSequence, 10))
	b.WriteString("\n")
	if p.VOD {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	}
	if p.DiscontinuitySequence > 0 {
		b.WriteString("#EXT-X-DISCONTINUITY-SEQUENCE:")
		b.WriteString(strconv.FormatUint(p.DiscontinuitySequence, 10))
		b.WriteString("\n")
	}
	curMap := ""
	for _, s := range p.Segments {
		// A discontinuity goes before the new EXT-X-MAP so that players reset their
		// demuxer before reading the new init section.
		if s.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.Map != "" && s.Map != curMap {
			b.WriteString("#EXT-X-MAP:URI=\"")
			b.WriteString(s.Map)
			b.WriteString("\"\n")
			curMap = s.Map
		}
		if !s.ProgramDateTime.IsZero() {
			b.WriteString("#EXT-X-PROGRAM-DATE-TIME:")
			b.WriteString(s.ProgramDateTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			b.WriteString("\n")
		}
		b.WriteString("#EXTINF:")
		b.WriteString(strconv.FormatFloat(s.Duration.Seconds(), 'f', 3, 64))
		b.WriteString(",\n")
		b.WriteString(s.URI)
		b.WriteString("\n")
	}
	if p.Ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// RewriteMultivariant renders m with every variant URI and every EXT-X-MEDIA URI
// replaced by rename(uri). A URI for which rename returns "" is dropped (a variant
// without a playlist is useless to a player). m is not modified.
func RewriteMultivariant(m *playlist.Multivariant, rename func(uri string) string) []byte {
	out := *m
	out.Variants = nil
	for _, v := range m.Variants {
		nu := rename(v.URI)
		if nu == "" {
			continue
		}
		c := *v
		c.URI = nu
		out.Variants = append(out.Variants, &c)
	}
	out.Renditions = nil
	for _, r := range m.Renditions {
		c := *r
		if r.URI != nil {
			nu := rename(*r.URI)
			if nu == "" {
				continue
			}
			c.URI = &nu
		}
		out.Renditions = append(out.Renditions, &c)
	}
	if out.Version < 3 {
		out.Version = 3
	}
	b, err := out.Marshal()
	if err != nil {
		// Marshal of a parsed playlist does not fail in gohlslib v2.
		return nil
	}
	// gohlslib always writes CODECS, even when the source had none; an empty CODECS
	// attribute is invalid, so drop it.
	return []byte(strings.ReplaceAll(string(b), `,CODECS=""`, ""))
}
