package origin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// The catalog: the origin's titles, guarded by Origin.titleMu. Lock order: a
// stream's mu, then titleMu.

// loadTitles registers the store's committed titles and VodDir's titles. A title that
// is bad, expired, taken down or named like another is logged and skipped.
func (o *Origin) loadTitles(now time.Time) error {
	if o.cfg.StoreDir != "" {
		root := filepath.Join(o.cfg.StoreDir, storeTitles)
		ents, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("origin: store: %w", err)
		}
		for _, e := range ents {
			dir := filepath.Join(root, e.Name())
			if !e.IsDir() || !media.ValidName(e.Name()) {
				o.cfg.Logger.Warn("origin: store: not a title, skipped", "path", dir)
				continue
			}
			t, err := o.loadStoredTitle(dir)
			if err != nil {
				o.cfg.Logger.Error("origin: store: title refused, not served", "title", e.Name(), "err", err)
				continue
			}
			if !t.expires.IsZero() && now.After(t.expires) {
				o.cfg.Logger.Info("origin: store: replay expired, removed", "title", t.name, "expired", t.expires)
				_ = o.store.discard(dir)
				continue
			}
			o.store.add(t.bytes)
			o.addTitle(t)
		}
	}
	if o.cfg.VodDir != "" {
		ents, err := os.ReadDir(o.cfg.VodDir)
		if err != nil {
			return fmt.Errorf("origin: vod dir: %w", err)
		}
		var recRoot string
		for _, e := range ents {
			dir := filepath.Join(o.cfg.VodDir, e.Name())
			if !e.IsDir() {
				continue
			}
			if !media.ValidName(e.Name()) {
				o.cfg.Logger.Warn("origin: vod dir: title name must match [A-Za-z0-9_-]{1,64}, skipped", "path", dir)
				continue
			}
			if o.takenDown(e.Name()) {
				o.cfg.Logger.Info("origin: vod dir: title taken down, not served", "title", e.Name())
				continue
			}
			if recRoot == "" {
				if recRoot, err = o.store.path(storeRecords); err != nil {
					return err
				}
			}
			t, err := o.loadDirTitle(dir, e.Name(), recRoot)
			if err != nil {
				o.cfg.Logger.Error("origin: vod dir: title refused, not served", "title", e.Name(), "err", err)
				continue
			}
			if !o.addTitle(t) {
				o.cfg.Logger.Error("origin: vod dir: title name already used by a stored title, skipped", "title", t.name)
			}
		}
	}
	// A smaller --store-bytes than last time: the oldest titles go.
	if err := o.reserve(0, ""); err != nil {
		o.cfg.Logger.Warn("origin: store over its bound", "used", o.store.usedBytes(), "limit", o.cfg.StoreBytes)
	}
	return nil
}

// addTitle registers t unless its name is taken by a title or a reserved stream.
func (o *Origin) addTitle(t *title) bool {
	if o.reserved(t.name) {
		return false
	}
	o.titleMu.Lock()
	defer o.titleMu.Unlock()
	if o.titles[t.name] != nil {
		return false
	}
	o.titles[t.name] = t
	delete(o.gone, t.name)
	o.m.titles.Set(float64(len(o.titles)))
	return true
}

// acquireTitle returns the named title with a read held (release with t.readers.Add(-1)).
func (o *Origin) acquireTitle(name string) *title {
	o.titleMu.RLock()
	defer o.titleMu.RUnlock()
	t := o.titles[name]
	if t != nil {
		t.readers.Add(1)
	}
	return t
}

func (o *Origin) hasTitle(name string) bool {
	o.titleMu.RLock()
	defer o.titleMu.RUnlock()
	return o.titles[name] != nil
}

// removeTitle unregisters t and deletes its stored files (never VodDir's). why is
// logged and kept for the 404 message.
func (o *Origin) removeTitle(t *title, why string) {
	o.titleMu.Lock()
	if o.titles[t.name] != t {
		o.titleMu.Unlock()
		return
	}
	delete(o.titles, t.name)
	o.gone[t.name] = why
	o.m.titles.Set(float64(len(o.titles)))
	o.titleMu.Unlock()
	if t.kind != titleDir {
		if err := o.store.discard(t.dir); err != nil {
			o.cfg.Logger.Error("origin: store: delete title", "title", t.name, "err", err)
		}
		o.store.release(t.bytes)
	}
	o.cfg.Logger.Info("origin: title removed", "title", t.name, "kind", t.kind, "why", why)
}

// reserve makes room for n more bytes in the store, evicting the oldest stored titles
// that nobody is reading (never keep).
func (o *Origin) reserve(n int64, keep string) error {
	for !o.store.tryReserve(n) {
		o.titleMu.Lock()
		var victim *title
		for _, t := range o.titles {
			if t.kind == titleDir || t.name == keep || t.readers.Load() > 0 {
				continue
			}
			if victim == nil || t.created.Before(victim.created) {
				victim = t
			}
		}
		o.titleMu.Unlock()
		if victim == nil {
			return fmt.Errorf("%w: %d of %d bytes used", ErrStoreFull, o.store.usedBytes(), o.store.limit)
		}
		o.removeTitle(victim, "evicted: store over --store-bytes")
	}
	return nil
}

// reapTitles removes replays past their expiry.
func (o *Origin) reapTitles(now time.Time) {
	o.titleMu.RLock()
	var expired []*title
	for _, t := range o.titles {
		if !t.expires.IsZero() && now.After(t.expires) && t.readers.Load() == 0 {
			expired = append(expired, t)
		}
	}
	o.titleMu.RUnlock()
	for _, t := range expired {
		o.removeTitle(t, "replay expired (--keep-ended)")
	}
}

// takenDown reports whether a VodDir title was taken down (a file in the store).
func (o *Origin) takenDown(name string) bool {
	if o.cfg.StoreDir == "" && !o.store.hasRoot() {
		return false
	}
	p, err := o.store.path(storeTakedowns, name)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// takedown removes a title; a VodDir title is remembered as taken down in the store,
// since its directory is never touched.
func (o *Origin) takedown(name string) error {
	o.titleMu.RLock()
	t := o.titles[name]
	o.titleMu.RUnlock()
	if t == nil {
		return errors.New("no such title")
	}
	if t.kind == titleDir {
		p, err := o.store.path(storeTakedowns, name)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(p, []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
			return err
		}
	}
	o.removeTitle(t, "taken down")
	return nil
}

// titleInfo is one entry of GET /titles.
type titleInfo struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Renditions []string  `json:"renditions"`
	Segments   int       `json:"segments"`
	Duration   float64   `json:"duration_s"`
	Bytes      int64     `json:"bytes"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires,omitzero"`
	Playlist   string    `json:"playlist"`
}

func (o *Origin) titleList() []titleInfo {
	o.titleMu.RLock()
	defer o.titleMu.RUnlock()
	out := make([]titleInfo, 0, len(o.titles))
	for _, t := range o.titles {
		ti := titleInfo{
			Name: t.name, Kind: t.kind, Renditions: t.order, Duration: t.dur.Seconds(), Bytes: t.bytes,
			Created: t.created, Expires: t.expires, Playlist: "/live/" + t.name + "/" + t.order[0] + ".m3u8",
		}
		if t.master != nil {
			ti.Playlist = "/live/" + t.name + "/master.m3u8"
		}
		for _, r := range t.rends {
			ti.Segments += r.count
		}
		out = append(out, ti)
	}
	slices.SortFunc(out, func(a, b titleInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
