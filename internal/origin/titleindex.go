package origin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// The title index is the one file that says a stored title is complete: a title
// directory without a valid index.json is not a title (docs/vod.md, "Store").
const (
	indexFile    = "index.json"
	indexVersion = 1
	// maxIndexBytes bounds the index a loader reads: MaxRenditions × maxTitleSegments
	// entries of about 200 bytes.
	maxIndexBytes = 128 << 20
	// maxTitleSegments bounds the segments of one rendition of a title (12 h of 2 s
	// segments); a recording that reaches it stops recording.
	maxTitleSegments = 21600
)

// Kinds of title, the "kind" of an index and of GET /titles.
const (
	titleVOD    = "vod"    // pushed with -hls_playlist_type vod
	titleReplay = "replay" // an ended live stream kept for KeepEnded
	titleDir    = "dir"    // a directory of VodDir, never written to
)

// titleIndex is index.json of a stored title.
type titleIndex struct {
	Version    int              `json:"version"`
	Name       string           `json:"name"`
	Kind       string           `json:"kind"`
	Created    time.Time        `json:"created"`
	Expires    time.Time        `json:"expires,omitzero"` // zero: kept until taken down or evicted
	Master     string           `json:"master,omitempty"` // the multivariant playlist as served
	Renditions []indexRendition `json:"renditions"`
}

type indexRendition struct {
	Name     string         `json:"name"`
	Target   int            `json:"target"`
	Inits    []indexInit    `json:"inits,omitempty"`
	Segments []indexSegment `json:"segments"`
}

type indexInit struct {
	Epoch  string `json:"epoch"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type indexSegment struct {
	Epoch  string    `json:"epoch"`
	Seq    uint64    `json:"seq"`
	Ext    string    `json:"ext"` // ".ts" or ".m4s"
	DurUS  int64     `json:"dur_us"`
	Disc   bool      `json:"disc,omitempty"`
	Init   string    `json:"init,omitempty"` // epoch of its init section (fMP4)
	PDT    time.Time `json:"pdt,omitzero"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	RecLen int       `json:"rec_len"` // bytes of its signed record
}

func (ix *titleIndex) encode() []byte {
	b, _ := json.Marshal(ix) // plain structs: Marshal does not fail
	return append(b, '\n')
}

// decodeTitleIndex parses and validates an index: every name, epoch and size that
// later becomes a file path or a playlist line is checked here, so a tampered or
// truncated index is refused before anything is served from it.
func decodeTitleIndex(b []byte, maxSegmentBytes int64, maxRenditions int) (*titleIndex, error) {
	if len(b) > maxIndexBytes {
		return nil, fmt.Errorf("%w: index of %d bytes", ErrBadTitle, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ix titleIndex
	if err := dec.Decode(&ix); err != nil {
		return nil, fmt.Errorf("%w: index: %v", ErrBadTitle, err)
	}
	switch {
	case ix.Version != indexVersion:
		return nil, fmt.Errorf("%w: index version %d, want %d", ErrBadTitle, ix.Version, indexVersion)
	case !media.ValidName(ix.Name):
		return nil, fmt.Errorf("%w: title name %q", ErrBadTitle, ix.Name)
	case ix.Kind != titleVOD && ix.Kind != titleReplay:
		return nil, fmt.Errorf("%w: kind %q", ErrBadTitle, ix.Kind)
	case len(ix.Renditions) == 0 || len(ix.Renditions) > maxRenditions:
		return nil, fmt.Errorf("%w: %d renditions", ErrBadTitle, len(ix.Renditions))
	case len(ix.Renditions) > 1 && ix.Master == "":
		return nil, fmt.Errorf("%w: %d renditions and no master playlist", ErrBadTitle, len(ix.Renditions))
	}
	if ix.Master != "" {
		if _, err := media.ParseMultivariant([]byte(ix.Master)); err != nil {
			return nil, fmt.Errorf("%w: master playlist: %v", ErrBadTitle, err)
		}
	}
	seen := map[string]bool{}
	for _, r := range ix.Renditions {
		if !media.ValidName(r.Name) || seen[r.Name] || r.Name == "master" {
			return nil, fmt.Errorf("%w: rendition name %q", ErrBadTitle, r.Name)
		}
		seen[r.Name] = true
		if err := r.validate(maxSegmentBytes); err != nil {
			return nil, fmt.Errorf("%w: rendition %s: %v", ErrBadTitle, r.Name, err)
		}
	}
	return &ix, nil
}

func (r *indexRendition) validate(maxSegmentBytes int64) error {
	if len(r.Segments) == 0 || len(r.Segments) > maxTitleSegments {
		return fmt.Errorf("%d segments", len(r.Segments))
	}
	if r.Target < 1 || r.Target > int(media.MaxSegmentDuration/time.Second) {
		return fmt.Errorf("target duration %d", r.Target)
	}
	inits := map[string]bool{}
	for _, in := range r.Inits {
		if !validEpoch(in.Epoch) || inits[in.Epoch] {
			return fmt.Errorf("init epoch %q", in.Epoch)
		}
		if err := checkFile(in.Size, in.SHA256, maxSegmentBytes); err != nil {
			return fmt.Errorf("init %s: %v", in.Epoch, err)
		}
		inits[in.Epoch] = true
	}
	var prev uint64
	for i, s := range r.Segments {
		switch {
		case !validEpoch(s.Epoch):
			return fmt.Errorf("segment %d: epoch %q", i, s.Epoch)
		case i > 0 && s.Seq != prev+1:
			// Players number segments from EXT-X-MEDIA-SEQUENCE; the URL's seq must agree.
			return fmt.Errorf("segment %d: seq %d after %d", i, s.Seq, prev)
		case s.Ext != ".ts" && s.Ext != ".m4s":
			return fmt.Errorf("segment %d: extension %q", i, s.Ext)
		case (s.Ext == ".m4s") != (s.Init != "") || s.Init != "" && !inits[s.Init]:
			return fmt.Errorf("segment %d: init %q", i, s.Init)
		case s.DurUS <= 0 || time.Duration(s.DurUS)*time.Microsecond > media.MaxSegmentDuration:
			return fmt.Errorf("segment %d: duration %dus", i, s.DurUS)
		case s.RecLen <= 0 || s.RecLen > 1<<20:
			return fmt.Errorf("segment %d: record of %d bytes", i, s.RecLen)
		}
		if err := checkFile(s.Size, s.SHA256, maxSegmentBytes); err != nil {
			return fmt.Errorf("segment %d: %v", i, err)
		}
		prev = s.Seq
	}
	return nil
}

func checkFile(size int64, sum string, maxBytes int64) error {
	if size <= 0 || size > maxBytes {
		return fmt.Errorf("size %d", size)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("sha256 %q", sum)
	}
	return nil
}

// validEpoch: the epochs of published names (media.ParseSegmentName), so that every
// path built from an index is one this origin could have written.
func validEpoch(e string) bool {
	if e == "" || len(e) > 16 {
		return false
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func parseSum(s string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	_, _ = hex.Decode(sum[:], []byte(s)) // validated by decodeTitleIndex
	return sum
}
