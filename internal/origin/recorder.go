package origin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// recorder writes every segment a stream publishes (with its record and init section)
// to a staging directory of the store, so that the stream can become a title when it
// ends: a VOD push when its playlists end, a live stream (KeepEnded) as its replay.
// Only the commit (index.json, then one rename of the directory) makes a title, so a
// killed origin leaves a staging directory, wiped at the next start, never half a
// title. Guarded by its stream's mu.
type recorder struct {
	o       *Origin
	name    string
	kind    string
	dir     string // staging directory
	created time.Time
	rends   []*indexRendition
	master  []byte
	bytes   int64 // reserved in the store
	err     error // the first failure; nothing more is recorded after it
}

func (o *Origin) newRecorder(name, kind string, now time.Time) *recorder {
	rc := &recorder{o: o, name: name, kind: kind, created: now}
	dir, err := o.store.path(storeStaging, name+"-"+randomSuffix())
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	rc.dir, rc.err = dir, err
	return rc
}

func (rc *recorder) rendition(name string) *indexRendition {
	for _, r := range rc.rends {
		if r.Name == name {
			return r
		}
	}
	r := &indexRendition{Name: name}
	rc.rends = append(rc.rends, r)
	return r
}

// write stores one file of the title durably (the commit relies on it).
func (rc *recorder) write(rel string, data []byte) error {
	if err := rc.o.reserve(int64(len(data)), rc.name); err != nil {
		return err
	}
	rc.bytes += int64(len(data))
	p := filepath.Join(rc.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (rc *recorder) fail(err error) {
	if rc.err == nil {
		rc.err = err
		rc.o.cfg.Logger.Error("origin: recording stopped", "stream", rc.name, "kind", rc.kind, "err", err)
	}
}

// addInit records an init section of rendition rn.
func (rc *recorder) addInit(rn string, in *initSection) {
	if rc.err != nil {
		return
	}
	r := rc.rendition(rn)
	for _, have := range r.Inits {
		if have.Epoch == in.epoch {
			return
		}
	}
	if err := rc.write(rn+"/"+in.name, in.data); err != nil {
		rc.fail(err)
		return
	}
	r.Inits = append(r.Inits, indexInit{Epoch: in.epoch, Size: int64(len(in.data)), SHA256: hex.EncodeToString(in.sum[:])})
}

// addSegment records a published segment of r.
func (rc *recorder) addSegment(r *rendition, seg *segment) {
	if rc.err != nil {
		return
	}
	ir := rc.rendition(r.name)
	if n := len(ir.Segments); n >= maxTitleSegments || n > 0 && ir.Segments[n-1].Seq+1 != seg.seq {
		rc.fail(fmt.Errorf("rendition %s: segment %d does not follow the recording", r.name, seg.seq))
		return
	}
	if seg.init != nil {
		rc.addInit(r.name, seg.init)
	}
	base := r.name + "/" + seg.base
	if err := rc.write(base+seg.kind.Ext(), seg.data); err != nil {
		rc.fail(err)
		return
	}
	if err := rc.write(base+".rec", seg.rec); err != nil {
		rc.fail(err)
		return
	}
	sum := seg.sum
	is := indexSegment{
		Epoch: seg.epoch, Seq: seg.seq, Ext: seg.kind.Ext(), DurUS: int64(seg.dur / time.Microsecond),
		Disc: seg.disc, PDT: seg.pdt, Size: int64(len(seg.data)), SHA256: hex.EncodeToString(sum[:]), RecLen: len(seg.rec),
	}
	if seg.init != nil {
		is.Init = seg.init.epoch
	}
	if len(ir.Segments) == 0 {
		is.Disc = false // a title starts with its first segment, not a discontinuity
	}
	ir.Segments = append(ir.Segments, is)
	ir.Target = max(ir.Target, r.target, media.TargetDuration(seg.dur))
}

// commit makes the recording a title of the store and registers it.
func (rc *recorder) commit(expires time.Time) (*title, error) {
	if rc.err != nil {
		return nil, rc.err
	}
	o := rc.o
	ix := titleIndex{Version: indexVersion, Name: rc.name, Kind: rc.kind, Created: rc.created.UTC(), Expires: expires, Master: string(rc.master)}
	for _, r := range rc.rends {
		if len(r.Segments) > 0 {
			ix.Renditions = append(ix.Renditions, *r)
		}
	}
	if len(ix.Renditions) == 0 {
		return nil, errors.New("nothing was published")
	}
	if len(ix.Renditions) == 1 {
		ix.Master = ""
	}
	for _, r := range ix.Renditions {
		if err := syncDir(filepath.Join(rc.dir, r.Name)); err != nil {
			return nil, err
		}
	}
	if err := writeFileAtomic(filepath.Join(rc.dir, indexFile), ix.encode()); err != nil {
		return nil, err
	}
	dst, err := o.store.path(storeTitles, rc.name)
	if err != nil {
		return nil, err
	}
	if o.hasTitle(rc.name) {
		return nil, fmt.Errorf("%w: %q", ErrTitleExists, rc.name)
	}
	if _, err := os.Stat(dst); err == nil {
		// A directory refused at start (bad title): the new title replaces it.
		o.cfg.Logger.Warn("origin: store: replacing a refused title directory", "title", rc.name)
		if err := o.store.discard(dst); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(rc.dir, dst); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return nil, err
	}
	rc.dir = dst
	t, err := o.loadStoredTitle(dst)
	if err != nil {
		return nil, err
	}
	// The bytes reserved while recording now belong to the title.
	t.bytes = rc.bytes
	if !o.addTitle(t) {
		_ = o.store.discard(dst)
		o.store.release(rc.bytes)
		return nil, fmt.Errorf("%w: %q", ErrTitleExists, rc.name)
	}
	return t, nil
}

// discard deletes the recording.
func (rc *recorder) discard() {
	if rc.dir != "" {
		if err := rc.o.store.discard(rc.dir); err != nil {
			rc.o.cfg.Logger.Error("origin: store: discard recording", "stream", rc.name, "err", err)
		}
	}
	rc.o.store.release(rc.bytes)
	rc.bytes = 0
	rc.dir = ""
}
