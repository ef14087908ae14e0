package origin

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/media"
)

// sourceKind is who publishes a stream.
type sourceKind int

const (
	sourceIngest sourceKind = iota
	sourceDemo
	sourcePull
)

// Bounds of a stream's pending buffer (segments and init sections waiting for a
// playlist). A ladder pushes about one file per rendition ahead of its playlists, so
// these leave ample room; past them the oldest pending files are dropped.
const maxPendingFiles = 64

// pendingFile is an ingested segment or init section not yet published.
type pendingFile struct {
	data []byte // nil when spilled
	sum  [sha256.Size]byte
	kind media.FileKind
	at   time.Time
	path string // spilled to this file of the store (spill.go)
	size int64  // of a spilled file
}

// entry is one segment of a source playlist.
type entry struct {
	key    string // pending-file key: ingest path, or upstream URL for pulls
	dur    time.Duration
	mapKey string // pending-file key of its init section; "" for MPEG-TS
	kind   media.FileKind
	disc   bool
	pdt    time.Time // from the source playlist; zero if none
}

// sourcePlaylist is an ingested or pulled media playlist reduced to what the origin
// publishes from it.
type sourcePlaylist struct {
	msn     int64
	target  int
	entries []entry
	ended   bool
	vod     bool // #EXT-X-PLAYLIST-TYPE:VOD
	sum     [sha256.Size]byte
}

func (p *sourcePlaylist) lists(key string) bool {
	for _, e := range p.entries {
		if e.key == key || e.mapKey == key {
			return true
		}
	}
	return false
}

// stream is one published stream. All fields below mu are guarded by it.
type stream struct {
	name   string
	o      *Origin
	key    ed25519.PrivateKey
	pub    []byte // encoded public key
	source sourceKind

	mu           sync.RWMutex
	removed      bool
	files        map[string]*pendingFile
	pendingBytes int64
	renditions   map[string]*rendition
	epoch        string
	master       []byte
	masterETag   string
	masterRends  []string // renditions the master names
	lastActivity time.Time
	lastPlaylist time.Time // of the last media playlist: older pending files it did not list expire
	spillDir     string    // pending files beyond the memory bound (spill.go)
	spilled      int       // files spilled so far: their names

	vod bool      // a VOD push: not served until it becomes a title (vod.go)
	rec *recorder // records what is published: a VOD push, or live with KeepEnded
}

func (s *stream) cfg() *Config { return &s.o.cfg }

// bumpEpoch starts a new stream epoch.
func (s *stream) bumpEpoch(now time.Time) {
	s.epoch = s.o.newEpoch(now)
}

// rendition returns the named rendition, creating it in the current epoch.
func (s *stream) rendition(name string, now time.Time) (*rendition, error) {
	if r := s.renditions[name]; r != nil {
		return r, nil
	}
	if len(s.renditions) >= s.cfg().MaxRenditions {
		return nil, ErrRenditionLimit
	}
	if s.epoch == "" {
		s.bumpEpoch(now)
	}
	r := newRendition(name, s.epoch)
	if s.cfg().ClockSequence && !s.vod {
		r.continueFrom(now)
	}
	s.renditions[name] = r
	return r, nil
}

// putFile stores an ingested segment or init section as pending and publishes
// whatever it completes.
func (s *stream) putFile(key string, f *pendingFile, now time.Time) {
	s.lastActivity = now
	for _, r := range s.renditions {
		if known, same := r.published(key, f.sum); known {
			if same {
				if f.kind != media.KindInit {
					return // a retried upload of a published segment
				}
			} else {
				// The encoder reuses a published name for other bytes: it restarted.
				r.restart = true
			}
		}
	}
	s.dropFile(key)
	if len(s.files) >= maxPendingFiles || s.pendingBytes+int64(len(f.data)) > s.maxPendingBytes() {
		s.spill(f)
	}
	s.files[key] = f
	s.pendingBytes += int64(len(f.data))
	s.trimPending()
	for _, r := range s.renditions {
		if r.src != nil && r.src.lists(key) {
			s.reconcile(r, now)
		}
	}
}

// trimPending drops the oldest in-memory pending files beyond the buffer bounds
// (those that could not be spilled).
func (s *stream) trimPending() {
	for {
		inMem := 0
		var oldest string
		var at time.Time
		for k, f := range s.files {
			if f.path == "" {
				inMem++
				if oldest == "" || f.at.Before(at) {
					oldest, at = k, f.at
				}
			}
		}
		if oldest == "" || inMem <= maxPendingFiles && s.pendingBytes <= s.maxPendingBytes() {
			return
		}
		s.dropFile(oldest)
	}
}

func (s *stream) maxPendingBytes() int64 { return 8 * s.cfg().MaxSegmentBytes }

func (s *stream) dropFile(key string) {
	if f := s.files[key]; f != nil {
		s.pendingBytes -= int64(len(f.data))
		s.unspill(f)
		delete(s.files, key)
	}
}

// applyPlaylist takes a new source media playlist of a rendition.
func (s *stream) applyPlaylist(name string, p *sourcePlaylist, now time.Time) error {
	r, err := s.rendition(name, now)
	if err != nil {
		return err
	}
	s.lastActivity = now
	s.lastPlaylist = now
	changed := r.src == nil || r.src.sum != p.sum
	last := p.msn + int64(len(p.entries)) - 1
	backwards := r.src != nil && (p.msn < r.src.msn || last < r.lastIngestSeq)
	// A playlist identical to the last one is a retry, not news; it cannot end or
	// restart anything.
	if r.restart || changed && (r.ended || backwards) {
		s.restartRendition(r, now)
	}
	r.src = p
	r.target = max(r.target, p.target)
	s.reconcile(r, now)
	return nil
}

// restartRendition moves r to a new epoch: the stream's, if a sibling rendition already
// started one since r last did, else a fresh one.
func (s *stream) restartRendition(r *rendition, now time.Time) {
	if r.epoch == s.epoch {
		s.bumpEpoch(now)
	}
	s.o.cfg.Logger.Info("origin: encoder restart, new epoch", "stream", s.name, "rendition", r.name, "epoch", s.epoch)
	r.epoch = s.epoch
	r.pendingDisc = r.nextSeq > 0
	r.lastIngestSeq = -1
	r.restart = false
	r.ended = false
	r.nextPDT = time.Time{}
	r.render(s.cfg().Window)
}

// reconcile publishes, in order, the entries of r's source playlist whose bytes have
// arrived. An entry still missing blocks the ones after it unless a later entry's
// bytes are already here (then the missing ones are skipped: they were lost).
func (s *stream) reconcile(r *rendition, now time.Time) {
	p := r.src
	if p == nil || r.restart {
		return // a restarted encoder's files wait for its next playlist
	}
	first := max(0, int(r.lastIngestSeq-p.msn+1))
	avail := -1
	for i := len(p.entries) - 1; i >= first; i-- {
		if s.files[p.entries[i].key] != nil {
			avail = i
			break
		}
	}
	if avail >= 0 && r.nextPDT.IsZero() {
		// Anchor wall-clock times so that the newest segment of this batch ends now.
		var total time.Duration
		for _, e := range p.entries[first : avail+1] {
			total += e.dur
		}
		r.nextPDT = now.Add(-total)
	}
	changed := false
	for i := first; i <= avail; i++ {
		e := p.entries[i]
		f := s.files[e.key]
		if f == nil {
			if s.vod {
				s.rec.fail(fmt.Errorf("segment %s listed by the playlist never arrived", e.key))
			}
			s.o.cfg.Logger.Warn("origin: segment never arrived, skipped", "stream", s.name, "rendition", r.name, "file", e.key)
			r.lastIngestSeq = p.msn + int64(i)
			r.nextPDT = r.nextPDT.Add(e.dur)
			continue
		}
		if !s.publish(r, e, f, now) {
			break // init section not here yet
		}
		s.dropFile(e.key)
		r.lastIngestSeq = p.msn + int64(i)
		changed = true
	}
	if p.ended && r.lastIngestSeq == p.msn+int64(len(p.entries))-1 && !r.ended {
		r.end(now, s.cfg().Window)
	} else if changed {
		r.render(s.cfg().Window)
	}
}

// publish publishes one segment of r. It reports false if the segment's init section
// is not available yet.
func (s *stream) publish(r *rendition, e entry, f *pendingFile, now time.Time) bool {
	var in *initSection
	if e.mapKey != "" {
		if in = s.initFor(r, e.mapKey, now); in == nil {
			return false
		}
	}
	pdt := e.pdt
	if pdt.IsZero() {
		pdt = r.nextPDT
	}
	if !pdt.IsZero() {
		r.nextPDT = pdt.Add(e.dur)
	}
	data, err := s.load(f)
	if err != nil {
		s.o.cfg.Logger.Error("origin: spilled segment unreadable, skipped", "stream", s.name, "file", e.key, "err", err)
		if s.rec != nil {
			s.rec.fail(err)
		}
		return true
	}
	s.addSegment(r, e.kind, data, f.sum, e.dur, e.disc, in, pdt, e.key, now)
	return true
}

// addSegment publishes data as the next segment of r in r's epoch. It takes ownership
// of data: MPEG-TS continuity counters are rewritten in place to continue the
// rendition's (see media.TSContinuity). ingestSum is the hash of the bytes as received,
// for restart detection.
func (s *stream) addSegment(r *rendition, kind media.FileKind, data []byte, ingestSum [sha256.Size]byte,
	dur time.Duration, disc bool, in *initSection, pdt time.Time, ingestKey string, now time.Time) *segment {
	if kind == media.KindTS {
		r.tscc.Rewrite(data)
	}
	sum := sha256.Sum256(data)
	seq := r.nextSeq
	r.nextSeq++
	base := media.SegmentName(r.epoch, seq, "")
	uri := r.name + "/" + base + kind.Ext()
	rec := manifest.New(s.name, r.name, r.epoch, seq, uri, dur, data).Sign(s.key)
	seg := &segment{
		seq: seq, epoch: r.epoch, base: base, kind: kind, data: data, etag: etagOf(sum), sum: sum,
		dur: dur, disc: disc || r.pendingDisc, init: in, pdt: pdt, rec: rec, at: now,
		ingestKey: ingestKey, ingestSum: ingestSum,
	}
	r.pendingDisc = false
	r.target = max(r.target, media.TargetDuration(dur))
	r.add(seg, s.cfg().Window)
	if s.rec != nil {
		s.rec.addSegment(r, seg)
	}
	s.o.m.published.WithLabelValues(s.name).Inc()
	return seg
}

// initFor returns the published init section for r's current epoch built from the
// init file at mapKey, publishing it if needed; nil if its bytes have not arrived.
func (s *stream) initFor(r *rendition, mapKey string, now time.Time) *initSection {
	cur := r.init
	f := s.files[mapKey]
	if f == nil {
		if cur == nil || cur.ingestKey != mapKey {
			return nil
		}
		if cur.epoch == r.epoch {
			return cur
		}
		// The same init bytes carried into a new epoch.
		f = &pendingFile{data: cur.data, sum: cur.sum, kind: media.KindInit}
	} else if cur != nil && cur.epoch == r.epoch {
		if cur.sum == f.sum {
			return cur
		}
		// New init bytes within an epoch: an init URL never changes bytes, so move on
		// to a new epoch.
		if r.epoch == s.epoch {
			s.bumpEpoch(now)
		}
		r.epoch = s.epoch
		r.pendingDisc = r.nextSeq > 0
	}
	data, err := s.load(f)
	if err != nil {
		s.o.cfg.Logger.Error("origin: spilled init section unreadable", "stream", s.name, "file", mapKey, "err", err)
		return nil
	}
	in := &initSection{
		epoch: r.epoch, name: media.InitName(r.epoch), data: data, etag: etagOf(f.sum),
		sum: f.sum, ingestKey: mapKey, at: now,
	}
	r.init = in
	r.inits[r.epoch] = in
	return in
}

// published reports whether a retained segment or the current init section of r
// came from the pending file key, and whether its bytes hash to sum.
func (r *rendition) published(key string, sum [sha256.Size]byte) (known, same bool) {
	if r.init != nil && r.init.ingestKey == key {
		return true, r.init.sum == sum
	}
	for _, seg := range slices.Backward(r.segs) {
		if seg.ingestKey == key && seg.epoch == r.epoch {
			return true, seg.ingestSum == sum
		}
	}
	return false, false
}

// setMaster stores a rendered multivariant playlist.
func (s *stream) setMaster(b []byte, now time.Time) {
	s.lastActivity = now
	s.master = b
	s.masterETag = etagOf(sha256.Sum256(b))
}

// expire ends renditions of a silent stream, drops stale pending files, and reports
// whether the stream is over and may be removed.
func (s *stream) expire(now time.Time) bool {
	if s.removed {
		return false // dropped meanwhile (a VOD push that became a title)
	}
	cfg := s.cfg()
	for k, f := range s.files {
		// A VOD push sends its playlist last: its files wait for the stream's timeout.
		if now.Sub(f.at) > cfg.QuietTimeout && !s.vod && s.lastPlaylist.After(f.at) {
			s.dropFile(k)
		}
	}
	if s.source == sourceDemo {
		return false
	}
	quiet := now.Sub(s.lastActivity) > cfg.QuietTimeout
	if s.vod {
		if s.rec.err == nil && s.vodComplete(now) {
			_ = s.commitVOD() // logged; on failure the reaper discards the recording
			return true
		}
		if quiet {
			s.o.cfg.Logger.Warn("origin: VOD push never ended its playlist (#EXT-X-ENDLIST): discarded after the quiet timeout",
				"title", s.name, "quiet", cfg.QuietTimeout)
		}
		return quiet
	}
	endedAt := s.lastActivity
	target := 1
	for _, r := range s.renditions {
		if quiet {
			r.end(now, cfg.Window)
		}
		if !r.ended {
			return false
		}
		if r.endedAt.After(endedAt) {
			endedAt = r.endedAt
		}
		target = max(target, r.target)
	}
	if len(s.renditions) == 0 && !quiet {
		return false
	}
	if s.rec != nil && len(s.renditions) > 0 && s.commitReplay(now) {
		return true // the replay serves the same URLs from now on
	}
	linger := cfg.Linger
	if linger == 0 {
		linger = time.Duration(cfg.Window*target) * time.Second
	}
	return now.Sub(endedAt) > linger
}
