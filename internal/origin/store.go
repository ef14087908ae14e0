package origin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Subdirectories of the store (docs/vod.md, "Store").
const (
	storeTitles    = "titles"    // committed titles: titles/NAME/index.json + files
	storeStaging   = "staging"   // recordings in progress; wiped at start
	storeRecords   = "records"   // records of VodDir titles: records/NAME/EPOCH/REND/…rec
	storeTakedowns = "takedowns" // takedowns/NAME: a VodDir title taken down
	storeTrash     = "trash"     // removed titles, deleted after the rename; wiped at start
)

// store is the origin's directory of titles. Its directory is created on first use:
// StoreDir, or a private temporary directory removed by Close.
type store struct {
	dir   string // "" until first use when temporary
	temp  bool
	limit int64

	mu   sync.Mutex
	used int64 // bytes of committed titles and of recordings in progress
}

func newStore(dir string, limit int64) (*store, error) {
	st := &store{dir: dir, limit: limit, temp: dir == ""}
	if dir == "" {
		return st, nil
	}
	if err := st.init(); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *store) init() error {
	for _, sub := range []string{storeTitles, storeStaging, storeRecords, storeTakedowns, storeTrash} {
		if err := os.MkdirAll(filepath.Join(st.dir, sub), 0o755); err != nil {
			return fmt.Errorf("origin: store: %w", err)
		}
	}
	// Whatever was staged or being deleted when the last process stopped is not a title.
	for _, sub := range []string{storeStaging, storeTrash} {
		ents, err := os.ReadDir(filepath.Join(st.dir, sub))
		if err != nil {
			return fmt.Errorf("origin: store: %w", err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(st.dir, sub, e.Name())); err != nil {
				return fmt.Errorf("origin: store: %w", err)
			}
		}
	}
	return nil
}

// root returns the store directory, creating a temporary one on first use.
func (st *store) root() (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir != "" {
		return st.dir, nil
	}
	d, err := os.MkdirTemp("", "shoal-store-")
	if err != nil {
		return "", fmt.Errorf("origin: store: %w", err)
	}
	st.dir = d
	if err := st.init(); err != nil {
		return "", err
	}
	return d, nil
}

func (st *store) path(elem ...string) (string, error) {
	root, err := st.root()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{root}, elem...)...), nil
}

// close removes a temporary store.
func (st *store) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.temp && st.dir != "" {
		err := os.RemoveAll(st.dir)
		st.dir = ""
		return err
	}
	return nil
}

// tryReserve accounts n more bytes if they fit under the limit.
func (st *store) tryReserve(n int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.used+n > st.limit {
		return false
	}
	st.used += n
	return true
}

// add accounts n bytes already on disk (titles loaded at start).
func (st *store) add(n int64) {
	st.mu.Lock()
	st.used += n
	st.mu.Unlock()
}

func (st *store) hasRoot() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.dir != ""
}

func (st *store) release(n int64) {
	st.mu.Lock()
	st.used -= n
	st.mu.Unlock()
}

func (st *store) usedBytes() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.used
}

// discard moves dir into the trash (one rename, so a loader never sees half a
// deletion) and deletes it.
func (st *store) discard(dir string) error {
	trash, err := st.path(storeTrash, filepath.Base(dir)+"-"+randomSuffix())
	if err != nil {
		return err
	}
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("origin: store: %w", err)
	}
	return os.RemoveAll(trash)
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeFileAtomic writes data to path so that path holds either its old content or
// all of data, durably: a temporary file in the same directory, fsync, rename, fsync
// of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readFileLimit reads a whole file of at most limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %d bytes or not a regular file (limit %d)", path, fi.Size(), limit)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}
