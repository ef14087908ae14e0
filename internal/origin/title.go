package origin

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
)

// cacheVODPlaylist: a title's playlists never change while it exists, but a takedown
// must reach players and edges within this bound.
const cacheVODPlaylist = "public, max-age=10"

// title is an on-demand title served from disk: a stored VOD push or replay, or a
// directory of VodDir. Everything but readers is immutable once registered.
type title struct {
	name    string
	kind    string // titleVOD, titleReplay, titleDir
	dir     string // its files
	recDir  string // VodDir titles: where their records are computed to; "" for stored titles
	key     ed25519.PrivateKey
	pub     []byte
	created time.Time
	expires time.Time // zero: no expiry
	bytes   int64     // counted in the store (0 for VodDir titles)
	dur     time.Duration

	master     []byte
	masterETag string
	rends      map[string]*titleRendition
	order      []string

	readers atomic.Int64 // requests reading its files: eviction skips it meanwhile
}

type titleRendition struct {
	name     string
	playlist []byte
	etag     string
	segs     map[string]*titleSeg  // by "{epoch}-{seq}"
	inits    map[string]*titleFile // by epoch
	count    int
}

// titleFile is one file of a title. For stored titles size and sum come from the
// index and are checked at every read; VodDir files are checked against their record.
type titleFile struct {
	rel    string // slash path below title.dir
	size   int64
	sum    [sha256.Size]byte
	hasSum bool
	mod    time.Time
}

type titleSeg struct {
	titleFile
	rendition, epoch, uri string
	seq                   uint64
	kind                  media.FileKind
	dur                   time.Duration
	recRel                string // below dir (stored) or recDir (VodDir)
}

func (t *title) filePath(rel string) string { return filepath.Join(t.dir, filepath.FromSlash(rel)) }

// loadStoredTitle reads a committed title of the store and checks that every file the
// index lists is there with its size: a truncated or incomplete title is refused.
func (o *Origin) loadStoredTitle(dir string) (*title, error) {
	b, err := readFileLimit(filepath.Join(dir, indexFile), maxIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTitle, err)
	}
	ix, err := decodeTitleIndex(b, o.cfg.MaxSegmentBytes, o.cfg.MaxRenditions)
	if err != nil {
		return nil, err
	}
	if filepath.Base(dir) != ix.Name {
		return nil, fmt.Errorf("%w: index names %q", ErrBadTitle, ix.Name)
	}
	key := o.keyFor(ix.Name)
	t := &title{
		name: ix.Name, kind: ix.Kind, dir: dir, key: key,
		pub:     manifest.EncodePublicKey(key.Public().(ed25519.PublicKey)),
		created: ix.Created, expires: ix.Expires, rends: map[string]*titleRendition{},
	}
	if ix.Master != "" {
		t.master = []byte(ix.Master)
		t.masterETag = etagOf(sha256.Sum256(t.master))
	}
	check := func(rel string, size int64) error {
		fi, err := os.Stat(t.filePath(rel))
		switch {
		case err != nil:
			return fmt.Errorf("%w: %s missing: %v", ErrBadTitle, rel, err)
		case !fi.Mode().IsRegular() || fi.Size() != size:
			return fmt.Errorf("%w: %s has %d bytes, index says %d (truncated?)", ErrBadTitle, rel, fi.Size(), size)
		}
		t.bytes += size
		return nil
	}
	for _, ir := range ix.Renditions {
		tr := &titleRendition{name: ir.Name, segs: map[string]*titleSeg{}, inits: map[string]*titleFile{}}
		for _, in := range ir.Inits {
			f := &titleFile{rel: ir.Name + "/" + media.InitName(in.Epoch), size: in.Size, sum: parseSum(in.SHA256), hasSum: true, mod: ix.Created}
			if err := check(f.rel, f.size); err != nil {
				return nil, err
			}
			tr.inits[in.Epoch] = f
		}
		pl := media.MediaPlaylist{TargetDuration: ir.Target, MediaSequence: ir.Segments[0].Seq, VOD: true, Ended: true}
		var dur time.Duration
		for _, s := range ir.Segments {
			base := media.SegmentName(s.Epoch, s.Seq, "")
			uri := ir.Name + "/" + base + s.Ext
			kind := media.KindTS
			if s.Ext == ".m4s" {
				kind = media.KindFMP4
			}
			ts := &titleSeg{
				titleFile: titleFile{rel: uri, size: s.Size, sum: parseSum(s.SHA256), hasSum: true, mod: ix.Created},
				rendition: ir.Name, epoch: s.Epoch, uri: uri, seq: s.Seq, kind: kind,
				dur: time.Duration(s.DurUS) * time.Microsecond, recRel: ir.Name + "/" + base + ".rec",
			}
			if err := check(ts.rel, ts.size); err != nil {
				return nil, err
			}
			if err := check(ts.recRel, int64(s.RecLen)); err != nil {
				return nil, err
			}
			tr.segs[base] = ts
			ms := media.Segment{URI: uri, Duration: ts.dur, Discontinuity: s.Disc, ProgramDateTime: s.PDT}
			if s.Init != "" {
				ms.Map = ir.Name + "/" + media.InitName(s.Init)
			}
			pl.Segments = append(pl.Segments, ms)
			dur += ts.dur
		}
		tr.count = len(ir.Segments)
		tr.playlist = pl.Render()
		tr.etag = etagOf(sha256.Sum256(tr.playlist))
		t.rends[ir.Name] = tr
		t.order = append(t.order, ir.Name)
		t.dur = max(t.dur, dur)
	}
	return t, nil
}

// titleFind resolves a path below /live/{title}/ like stream.find, reading from disk.
// It returns the object, or an HTTP status and a message.
func (o *Origin) titleFind(t *title, sub string) (*object, int, string) {
	if sub == "key" {
		return &object{body: t.pub, contentType: "text/plain; charset=utf-8", cache: cacheKey}, 0, ""
	}
	rname, fname, nested := strings.Cut(sub, "/")
	if !nested {
		rn, ok := strings.CutSuffix(sub, ".m3u8")
		if !ok {
			return nil, http.StatusNotFound, "origin: not found"
		}
		if rn == "master" && t.master != nil {
			return &object{body: t.master, contentType: media.KindPlaylist.ContentType(), cache: cacheVODPlaylist, etag: t.masterETag, mod: t.created}, 0, ""
		}
		r := t.rends[rn]
		if r == nil {
			return nil, http.StatusNotFound, "origin: no playlist " + quote(sub) + " in title " + quote(t.name)
		}
		return &object{body: r.playlist, contentType: media.KindPlaylist.ContentType(), cache: cacheVODPlaylist, etag: r.etag, mod: t.created}, 0, ""
	}
	r := t.rends[rname]
	if r == nil {
		return nil, http.StatusNotFound, "origin: unknown rendition " + quote(rname)
	}
	epoch, seq, ext, init, err := media.ParseSegmentName(fname)
	if err != nil {
		return nil, http.StatusNotFound, "origin: not found: " + err.Error()
	}
	if init {
		f := r.inits[epoch]
		if f == nil {
			return nil, http.StatusNotFound, "origin: no init section " + quote(fname) + " in title " + quote(t.name)
		}
		data, err := o.readChecked(t, f)
		if err != nil {
			return o.titleFailure(t, f.rel, err)
		}
		return &object{body: data, contentType: media.KindInit.ContentType(), cache: cacheImmutable, etag: etagOf(sha256.Sum256(data)), mod: f.mod}, 0, ""
	}
	seg := r.segs[media.SegmentName(epoch, seq, "")]
	if seg == nil {
		return nil, http.StatusNotFound, "origin: no segment " + quote(fname) + " in title " + quote(t.name)
	}
	switch ext {
	case ".rec":
		rec, _, err := o.titleRecord(t, seg, nil)
		if err != nil {
			return o.titleFailure(t, seg.recRel, err)
		}
		return &object{body: rec, contentType: "application/octet-stream", cache: cacheImmutable, mod: seg.mod}, 0, ""
	case seg.kind.Ext():
		data, err := o.readChecked(t, &seg.titleFile)
		if err == nil && !seg.hasSum {
			_, _, err = o.titleRecord(t, seg, data)
		}
		if err != nil {
			return o.titleFailure(t, seg.rel, err)
		}
		return &object{body: data, contentType: seg.kind.ContentType(), cache: cacheImmutable, etag: etagOf(sha256.Sum256(data)), mod: seg.mod}, 0, ""
	}
	return nil, http.StatusNotFound, "origin: segment " + quote(fname) + " has another extension"
}

// titleFailure logs a file of a title that cannot be served as published and answers
// 500: the bytes on disk are not the ones the playlist and records promise.
func (o *Origin) titleFailure(t *title, rel string, err error) (*object, int, string) {
	o.cfg.Logger.Error("origin: title file not served", "title", t.name, "file", rel, "err", err)
	return nil, http.StatusInternalServerError, fmt.Sprintf("origin: title %s: %s cannot be served: %v", quote(t.name), rel, err)
}

// readChecked reads a file of t, checking it against the index for stored titles.
func (o *Origin) readChecked(t *title, f *titleFile) ([]byte, error) {
	data, err := readFileLimit(t.filePath(f.rel), o.cfg.MaxSegmentBytes)
	if err != nil {
		return nil, err
	}
	if f.hasSum && (int64(len(data)) != f.size || sha256.Sum256(data) != f.sum) {
		return nil, fmt.Errorf("%w: %s changed on disk (%d bytes, index says %d)", ErrBadTitle, f.rel, len(data), f.size)
	}
	if !f.hasSum && len(data) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadTitle, f.rel)
	}
	return data, nil
}

// titleRecord returns the signed record of seg. A stored title's is read and its
// signature checked; a VodDir title's is read from the store, or computed from the
// segment's bytes (data, or read) and kept there, and the bytes are checked against
// it, so a segment edited in place after its record was made is refused.
func (o *Origin) titleRecord(t *title, seg *titleSeg, data []byte) ([]byte, *manifest.Record, error) {
	pub := t.key.Public().(ed25519.PublicKey)
	if t.recDir == "" {
		b, err := readFileLimit(t.filePath(seg.recRel), 1<<20)
		if err != nil {
			return nil, nil, err
		}
		rec, err := manifest.Parse(b, pub)
		if err != nil {
			return nil, nil, fmt.Errorf("record: %w", err)
		}
		return b, rec, nil
	}
	path := filepath.Join(t.recDir, filepath.FromSlash(seg.recRel))
	if b, err := readFileLimit(path, 1<<20); err == nil {
		rec, err := manifest.Parse(b, pub)
		if err == nil && rec.Stream == t.name && rec.Rendition == seg.rendition && rec.Epoch == seg.epoch &&
			rec.Seq == seg.seq && rec.URI == seg.uri && (data == nil || rec.Verify(data) == nil) {
			return b, rec, nil
		}
		if err == nil && data != nil && rec.Verify(data) != nil {
			return nil, nil, fmt.Errorf("%w: %s changed on disk since its record was made", ErrBadTitle, seg.rel)
		}
		// Signed with another key or otherwise stale: made again below.
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	if data == nil {
		var err error
		if data, err = o.readChecked(t, &seg.titleFile); err != nil {
			return nil, nil, err
		}
	}
	rec := manifest.New(t.name, seg.rendition, seg.epoch, seg.seq, seg.uri, seg.dur, data)
	b := rec.Sign(t.key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(path, b); err != nil {
		return nil, nil, err
	}
	return b, rec, nil
}
