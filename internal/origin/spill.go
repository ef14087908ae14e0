package origin

import (
	"os"
	"path/filepath"
	"strconv"
)

// Pending files beyond a stream's memory bound are spilled to the store instead of
// being dropped: ffmpeg's -hls_playlist_type vod PUTs every segment of a title before
// its one playlist. Spilled bytes count against StoreBytes; when they do not fit, the
// file stays in memory and the oldest in-memory files go, as for a live stream. Guarded
// by the stream's mu.

// spill moves f's bytes to disk; it reports false (f untouched) if it cannot.
func (s *stream) spill(f *pendingFile) bool {
	if s.spillDir == "" {
		dir, err := s.o.store.path(storeStaging, "pending-"+s.name+"-"+randomSuffix())
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			s.o.cfg.Logger.Error("origin: cannot spill pending files", "stream", s.name, "err", err)
			return false
		}
		s.spillDir = dir
	}
	n := int64(len(f.data))
	if err := s.o.reserve(n, s.name); err != nil {
		s.o.cfg.Logger.Warn("origin: pending file not spilled", "stream", s.name, "err", err)
		return false
	}
	s.spilled++
	p := filepath.Join(s.spillDir, strconv.Itoa(s.spilled))
	if err := os.WriteFile(p, f.data, 0o644); err != nil {
		s.o.store.release(n)
		s.o.cfg.Logger.Error("origin: spill pending file", "stream", s.name, "err", err)
		return false
	}
	f.path, f.size, f.data = p, n, nil
	return true
}

// unspill deletes f's spilled bytes, if any.
func (s *stream) unspill(f *pendingFile) {
	if f.path == "" {
		return
	}
	_ = os.Remove(f.path)
	s.o.store.release(f.size)
	f.path = ""
}

// load returns f's bytes, reading them back if spilled.
func (s *stream) load(f *pendingFile) ([]byte, error) {
	if f.path == "" {
		return f.data, nil
	}
	return readFileLimit(f.path, s.cfg().MaxSegmentBytes)
}

// clearPending drops every pending file and the spill directory (the stream is gone).
func (s *stream) clearPending() {
	for k := range s.files {
		s.dropFile(k)
	}
	if s.spillDir != "" {
		_ = os.RemoveAll(s.spillDir)
		s.spillDir = ""
	}
}
