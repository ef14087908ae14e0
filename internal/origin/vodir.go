package origin

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
)

// tsPacket is the MPEG-TS packet size: a .ts file of another multiple is truncated.
const tsPacket = 188

// loadDirTitle reads VodDir/NAME as ffmpeg writes a title offline: one media playlist,
// or a multivariant playlist and the media playlists it names, each ended
// (#EXT-X-ENDLIST), with segments next to them. Nothing is written to or removed from
// the directory. Every listed file must exist and look whole; records are computed on
// first use and kept in the store (titleRecord). The epoch, shared by the renditions,
// is the newest playlist modification time, so URLs are the same after a restart and
// change when the title is re-encoded.
func (o *Origin) loadDirTitle(dir, name, recRoot string) (*title, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTitle, err)
	}
	var masters, medias []string
	playlists := map[string]playlist.Playlist{}
	var newest time.Time
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".m3u8") {
			continue
		}
		if _, err := media.CheckFilePath(e.Name()); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadTitle, err)
		}
		b, err := readFileLimit(filepath.Join(dir, e.Name()), o.cfg.MaxPlaylistBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadTitle, err)
		}
		pl, err := media.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadTitle, e.Name(), err)
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		playlists[e.Name()] = pl
		if _, ok := pl.(*playlist.Multivariant); ok {
			masters = append(masters, e.Name())
		} else {
			medias = append(medias, e.Name())
		}
	}
	slices.Sort(masters)
	slices.Sort(medias)
	key := o.keyFor(name)
	t := &title{
		name: name, kind: titleDir, dir: dir, key: key,
		pub:     manifest.EncodePublicKey(key.Public().(ed25519.PublicKey)),
		created: newest, rends: map[string]*titleRendition{},
	}
	epoch := strconv.FormatInt(newest.UnixMilli(), 36)
	t.recDir = filepath.Join(recRoot, name, epoch)

	var wanted []string // media playlist files, in rendition order
	switch {
	case len(masters) > 1:
		return nil, fmt.Errorf("%w: %d multivariant playlists (%s)", ErrBadTitle, len(masters), strings.Join(masters, ", "))
	case len(masters) == 1:
		var bad error
		t.master = media.RewriteMultivariant(playlists[masters[0]].(*playlist.Multivariant), func(uri string) string {
			k, kind, err := media.ResolveRelative(masters[0], uri)
			if err == nil && kind != media.KindPlaylist {
				err = fmt.Errorf("variant %q is not a .m3u8 playlist", uri)
			}
			var rn string
			if err == nil {
				rn, err = media.RenditionName(k)
			}
			if err != nil {
				bad = err
				return ""
			}
			if !slices.Contains(wanted, k) {
				wanted = append(wanted, k)
			}
			return rn + ".m3u8"
		})
		if bad != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadTitle, masters[0], bad)
		}
		t.masterETag = etagOf(sha256.Sum256(t.master))
	case len(medias) == 1:
		wanted = medias
	case len(medias) == 0:
		return nil, fmt.Errorf("%w: no playlist", ErrBadTitle)
	default:
		return nil, fmt.Errorf("%w: %d media playlists and no multivariant playlist naming them", ErrBadTitle, len(medias))
	}
	if len(wanted) > o.cfg.MaxRenditions {
		return nil, fmt.Errorf("%w: %d renditions (limit %d)", ErrBadTitle, len(wanted), o.cfg.MaxRenditions)
	}
	for _, file := range wanted {
		pl := playlists[file]
		if pl == nil { // in a sub-folder
			b, err := readFileLimit(filepath.Join(dir, filepath.FromSlash(file)), o.cfg.MaxPlaylistBytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadTitle, err)
			}
			if pl, err = media.Parse(b); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrBadTitle, file, err)
			}
		}
		mp, ok := pl.(*playlist.Media)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a media playlist", ErrBadTitle, file)
		}
		tr, err := t.dirRendition(file, mp, epoch)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadTitle, file, err)
		}
		t.rends[tr.name] = tr
		t.order = append(t.order, tr.name)
	}
	return t, nil
}

func (t *title) dirRendition(file string, mp *playlist.Media, epoch string) (*titleRendition, error) {
	if !mp.Endlist {
		return nil, fmt.Errorf("not a finished title: no #EXT-X-ENDLIST")
	}
	if len(mp.Segments) == 0 {
		return nil, fmt.Errorf("no segments")
	}
	rn, err := media.RenditionName(file)
	if err != nil {
		return nil, err
	}
	sp, err := fromIngest(file, mp, nil) // the same path rules as pushed playlists
	if err != nil {
		return nil, err
	}
	tr := &titleRendition{name: rn, segs: map[string]*titleSeg{}, inits: map[string]*titleFile{}, count: len(sp.entries)}
	stat := func(rel string, kind media.FileKind) (*titleFile, error) {
		fi, err := os.Stat(t.filePath(rel))
		switch {
		case err != nil:
			return nil, fmt.Errorf("segment %s missing: %v", rel, err)
		case !fi.Mode().IsRegular() || fi.Size() == 0:
			return nil, fmt.Errorf("%s is empty or not a file", rel)
		case kind == media.KindTS && fi.Size()%tsPacket != 0:
			return nil, fmt.Errorf("%s: %d bytes is not whole MPEG-TS packets (truncated?)", rel, fi.Size())
		}
		return &titleFile{rel: rel, size: fi.Size(), mod: fi.ModTime()}, nil
	}
	pl := media.MediaPlaylist{TargetDuration: mp.TargetDuration, VOD: true, Ended: true}
	var dur time.Duration
	for i, e := range sp.entries {
		if e.dur <= 0 {
			return nil, fmt.Errorf("segment %d: duration %v", i, e.dur)
		}
		f, err := stat(e.key, e.kind)
		if err != nil {
			return nil, err
		}
		seq := uint64(i)
		base := media.SegmentName(epoch, seq, "")
		uri := rn + "/" + base + e.kind.Ext()
		ms := media.Segment{URI: uri, Duration: e.dur, Discontinuity: e.disc && i > 0, ProgramDateTime: e.pdt}
		if e.mapKey != "" {
			if tr.inits[epoch] == nil {
				in, err := stat(e.mapKey, media.KindInit)
				if err != nil {
					return nil, err
				}
				tr.inits[epoch] = in
			}
			ms.Map = rn + "/" + media.InitName(epoch)
		}
		tr.segs[base] = &titleSeg{
			titleFile: *f, rendition: rn, epoch: epoch, uri: uri, seq: seq, kind: e.kind, dur: e.dur,
			recRel: path.Join(rn, base+".rec"),
		}
		pl.Segments = append(pl.Segments, ms)
		dur += e.dur
	}
	t.dur = max(t.dur, dur)
	tr.playlist = pl.Render()
	tr.etag = etagOf(sha256.Sum256(tr.playlist))
	return tr, nil
}
