package origin

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// segment is one published segment. Every field is immutable once published.
type segment struct {
	seq       uint64
	epoch     string
	base      string // "{epoch}-{seq}"
	kind      media.FileKind
	data      []byte
	etag      string
	sum       [sha256.Size]byte // of data as published
	dur       time.Duration
	disc      bool
	init      *initSection // fMP4 only
	pdt       time.Time
	rec       []byte // signed record
	at        time.Time
	ingestKey string
	ingestSum [sha256.Size]byte // of the bytes as received
}

// initSection is one epoch's published fMP4 init section.
type initSection struct {
	epoch     string
	name      string // "{epoch}-init.mp4"
	data      []byte
	etag      string
	sum       [sha256.Size]byte
	ingestKey string
	at        time.Time
}

// rendition is the published state of one rendition of a stream. Guarded by the
// stream's mutex.
type rendition struct {
	name   string
	epoch  string
	segs   []*segment // retained, oldest first; the newest Window are listed
	byBase map[string]*segment
	inits  map[string]*initSection // retained init sections by epoch
	init   *initSection            // the current epoch's

	nextSeq     uint64 // published sequence number of the next segment
	discSeq     uint64 // discontinuities that slid out of the listed window
	pendingDisc bool   // the next published segment starts a discontinuity
	target      int    // target duration in seconds, never decreases
	tscc        media.TSContinuity

	// Source tracking (ingest or pull) within the current epoch.
	src           *sourcePlaylist
	lastIngestSeq int64 // source media sequence of the newest published or skipped entry
	restart       bool  // the encoder restarted; start a new epoch at its next playlist
	nextPDT       time.Time

	ended   bool
	endedAt time.Time

	playlist []byte // rendered; nil until the first segment
	etag     string
}

func newRendition(name, epoch string) *rendition {
	return &rendition{
		name:          name,
		epoch:         epoch,
		byBase:        make(map[string]*segment),
		inits:         make(map[string]*initSection),
		lastIngestSeq: -1,
	}
}

// add appends a published segment, keeping window segments listed and as many again
// retained, and re-renders the playlist.
func (r *rendition) add(seg *segment, window int) {
	if n := len(r.segs); n >= window && r.segs[n-window].disc {
		// That segment leaves the listed window with its discontinuity tag.
		r.discSeq++
	}
	r.segs = append(r.segs, seg)
	r.byBase[seg.base] = seg
	if len(r.segs) > 2*window {
		drop := len(r.segs) - 2*window
		for _, old := range r.segs[:drop] {
			delete(r.byBase, old.base)
		}
		r.segs = append([]*segment(nil), r.segs[drop:]...)
		r.gcInits()
	}
	r.render(window)
}

// gcInits drops init sections no retained segment refers to.
func (r *rendition) gcInits() {
	for ep, in := range r.inits {
		if in == r.init {
			continue
		}
		used := false
		for _, s := range r.segs {
			if s.init == in {
				used = true
				break
			}
		}
		if !used {
			delete(r.inits, ep)
		}
	}
}

func (r *rendition) render(window int) {
	if len(r.segs) == 0 {
		r.playlist, r.etag = nil, ""
		return
	}
	listed := r.segs[max(0, len(r.segs)-window):]
	p := media.MediaPlaylist{
		TargetDuration:        r.target,
		MediaSequence:         listed[0].seq,
		DiscontinuitySequence: r.discSeq,
		Ended:                 r.ended,
		Segments:              make([]media.Segment, len(listed)),
	}
	for i, s := range listed {
		ms := media.Segment{
			URI:             r.name + "/" + s.base + s.kind.Ext(),
			Duration:        s.dur,
			Discontinuity:   s.disc,
			ProgramDateTime: s.pdt,
		}
		if s.init != nil {
			ms.Map = r.name + "/" + s.init.name
		}
		p.Segments[i] = ms
	}
	r.playlist = p.Render()
	r.etag = etagOf(sha256.Sum256(r.playlist))
}

// end marks the rendition ended (#EXT-X-ENDLIST).
func (r *rendition) end(now time.Time, window int) {
	if r.ended {
		return
	}
	r.ended, r.endedAt = true, now
	r.render(window)
}

func etagOf(sum [sha256.Size]byte) string {
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
