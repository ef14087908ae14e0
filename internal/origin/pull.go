package origin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/transport"
)

const (
	// pullStartSegments is how many of the newest upstream segments a relay fetches
	// when it (re)joins a stream; older ones are skipped.
	pullStartSegments = 3
	pullFetchTimeout  = 20 * time.Second
	pullMaxBackoff    = 10 * time.Second
)

// pull relays one upstream HLS stream (media or multivariant playlist) into a stream.
type pull struct {
	o    *Origin
	name string
	url  string
}

func newPull(o *Origin, name, u string) *pull { return &pull{o: o, name: name, url: u} }

// statusError is an upstream HTTP error status.
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: GET %s: HTTP %d", ErrUpstream, e.url, e.code)
}

func (e *statusError) Unwrap() error { return ErrUpstream }

// run fetches the upstream playlist until ctx ends: a media playlist is relayed as
// rendition "index"; a multivariant playlist is rewritten and each of its renditions
// relayed.
func (p *pull) run(ctx context.Context) {
	log := p.o.cfg.Logger.With("stream", p.name, "upstream", p.url)
	backoff := time.Second
	for {
		body, err := p.get(ctx, p.url, p.o.cfg.MaxPlaylistBytes)
		var pl playlist.Playlist
		if err == nil {
			pl, err = media.Parse(body)
		}
		if err == nil {
			switch pl := pl.(type) {
			case *playlist.Media:
				p.relay(ctx, "index", p.url)
				return
			case *playlist.Multivariant:
				if err = p.relayAll(ctx, pl); err == nil {
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("origin: pull", "err", err)
		if !transport.Sleep(ctx, transport.SystemClock(), backoff) {
			return
		}
		backoff = min(2*backoff, pullMaxBackoff)
	}
}

// relayAll publishes the rewritten multivariant playlist and relays every rendition
// until ctx ends.
func (p *pull) relayAll(ctx context.Context, m *playlist.Multivariant) error {
	base, err := url.Parse(p.url)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	names := map[string]string{} // absolute URL → rendition
	used := map[string]bool{}
	master := media.RewriteMultivariant(m, func(uri string) string {
		u, err := base.Parse(uri)
		if err != nil {
			return ""
		}
		abs := u.String()
		if n, ok := names[abs]; ok {
			return n + ".m3u8"
		}
		if len(names) >= p.o.cfg.MaxRenditions {
			return ""
		}
		n := renditionFromURL(base, u)
		for i := 2; used[n]; i++ {
			n = fmt.Sprintf("%.58s-%d", renditionFromURL(base, u), i)
		}
		used[n] = true
		names[abs] = n
		return n + ".m3u8"
	})
	if len(names) == 0 {
		return fmt.Errorf("%w: multivariant playlist without usable variants", ErrUpstream)
	}
	err = p.o.withStream(p.name, sourcePull, func(s *stream) error {
		s.setMaster(master, p.o.cfg.Now())
		return nil
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for abs, n := range names {
		wg.Go(func() { p.relay(ctx, n, abs) })
	}
	wg.Wait()
	return nil
}

// renditionFromURL names the rendition of a variant playlist: its path relative to the
// multivariant playlist's folder when it lies below it ("v1/index.m3u8" → "v1-index"),
// else its file name, with other characters replaced by '_'.
func renditionFromURL(base, u *url.URL) string {
	p := path.Base(u.Path)
	if u.Host == base.Host {
		dir := path.Dir(base.Path)
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		if rel, ok := strings.CutPrefix(u.Path, dir); ok {
			p = rel
		}
	}
	p = strings.TrimSuffix(p, path.Ext(p))
	b := []byte(strings.ReplaceAll(p, "/", "-"))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	n := string(b)
	if len(n) > 58 {
		n = n[len(n)-58:]
	}
	if n == "" || n == "master" {
		n = "variant"
	}
	return n
}

// relay polls one upstream media playlist and republishes its new segments as
// rendition name until ctx ends.
func (p *pull) relay(ctx context.Context, name, u string) {
	log := p.o.cfg.Logger.With("stream", p.name, "rendition", name, "upstream", u)
	base, err := url.Parse(u)
	if err != nil {
		log.Error("origin: pull: bad URL", "err", err)
		return
	}
	var (
		lastSeq int64 = -1 // upstream media sequence of the newest segment fetched
		lastMSN int64 = -1
		lastSum [sha256.Size]byte
		inits   = map[string]bool{} // init URLs fetched in this upstream session
		backoff = time.Second
	)
	for {
		wait := p.interval(0)
		body, err := p.get(ctx, u, p.o.cfg.MaxPlaylistBytes)
		var pl *playlist.Media
		if err == nil {
			pl, err = media.ParseMedia(body)
		}
		if err == nil {
			wait = p.interval(pl.TargetDuration)
			backoff = time.Second
			if sum := sha256.Sum256(body); sum != lastSum {
				msn := int64(pl.MediaSequence)
				if msn < lastMSN || msn+int64(len(pl.Segments))-1 < lastSeq {
					log.Info("origin: pull: upstream restarted")
					lastSeq = -1
					clear(inits)
				}
				var sp *sourcePlaylist
				sp, err = fromUpstream(base, pl, sum)
				if err == nil {
					lastSeq, err = p.fetchNew(ctx, name, sp, lastSeq, inits)
					lastSum, lastMSN = sum, msn
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("origin: pull", "err", err)
			wait = backoff
			backoff = min(2*backoff, pullMaxBackoff)
		}
		if !transport.Sleep(ctx, transport.SystemClock(), wait) {
			return
		}
	}
}

// fetchNew applies sp and fetches, in order, its segments newer than lastSeq (on a
// fresh start only the newest few), feeding them to the stream. It returns the new
// lastSeq.
func (p *pull) fetchNew(ctx context.Context, name string, sp *sourcePlaylist, lastSeq int64, inits map[string]bool) (int64, error) {
	now := p.o.cfg.Now()
	if err := p.o.withStream(p.name, sourcePull, func(s *stream) error {
		return s.applyPlaylist(name, sp, now)
	}); err != nil {
		return lastSeq, err
	}
	start := int(lastSeq - sp.msn + 1)
	if lastSeq < 0 {
		start = len(sp.entries) - pullStartSegments
	}
	for i := max(start, 0); i < len(sp.entries); i++ {
		e := sp.entries[i]
		if e.mapKey != "" && !inits[e.mapKey] {
			if err := p.fetchFile(ctx, e.mapKey, media.KindInit); err != nil {
				return lastSeq, err
			}
			inits[e.mapKey] = true
		}
		if err := p.fetchFile(ctx, e.key, e.kind); err != nil {
			if se, ok := errors.AsType[*statusError](err); ok && se.code >= 400 && se.code < 500 {
				// Gone or refused for good: skip it rather than stall the relay.
				p.o.cfg.Logger.Warn("origin: pull: segment skipped", "stream", p.name, "err", err)
				lastSeq = sp.msn + int64(i)
				continue
			}
			return lastSeq, err
		}
		lastSeq = sp.msn + int64(i)
	}
	return lastSeq, nil
}

// fetchFile fetches one upstream segment or init section into the stream's pending
// files.
func (p *pull) fetchFile(ctx context.Context, u string, kind media.FileKind) error {
	b, err := p.get(ctx, u, p.o.cfg.MaxSegmentBytes)
	if err != nil {
		return err
	}
	if err := media.Sniff(kind, b); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUpstream, u, err)
	}
	now := p.o.cfg.Now()
	f := &pendingFile{data: b, sum: sha256.Sum256(b), kind: kind, at: now}
	err = p.o.withStream(p.name, sourcePull, func(s *stream) error {
		s.putFile(u, f, now)
		return nil
	})
	if err == nil {
		p.o.m.ingestBytes.WithLabelValues(p.name).Add(float64(len(b)))
	}
	return err
}

// fromUpstream resolves an upstream media playlist's URIs to absolute URLs, the
// pending-file keys of a pull.
func fromUpstream(base *url.URL, pl *playlist.Media, sum [sha256.Size]byte) (*sourcePlaylist, error) {
	sp := &sourcePlaylist{
		msn: int64(pl.MediaSequence), target: pl.TargetDuration, ended: pl.Endlist,
		sum: sum, entries: make([]entry, 0, len(pl.Segments)),
	}
	kind := media.KindTS
	var mapKey string
	if pl.Map != nil {
		u, err := base.Parse(pl.Map.URI)
		if err != nil {
			return nil, fmt.Errorf("%w: EXT-X-MAP %q: %v", ErrUpstream, pl.Map.URI, err)
		}
		mapKey, kind = u.String(), media.KindFMP4
	}
	for _, seg := range pl.Segments {
		u, err := base.Parse(seg.URI)
		if err != nil {
			return nil, fmt.Errorf("%w: segment %q: %v", ErrUpstream, seg.URI, err)
		}
		e := entry{key: u.String(), dur: seg.Duration, mapKey: mapKey, kind: kind, disc: seg.Discontinuity}
		if seg.DateTime != nil {
			e.pdt = *seg.DateTime
		}
		sp.entries = append(sp.entries, e)
	}
	return sp, nil
}

// interval is the pause between upstream polls for a target duration in seconds.
func (p *pull) interval(target int) time.Duration {
	if p.o.cfg.PullInterval > 0 {
		return p.o.cfg.PullInterval
	}
	if target <= 0 {
		return time.Second
	}
	return min(max(time.Duration(target)*time.Second/2, 250*time.Millisecond), 5*time.Second)
}

// get fetches u with a timeout and a body size limit.
func (p *pull) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, pullFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	resp, err := p.o.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &statusError{url: u, code: resp.StatusCode}
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s: %d bytes exceed the limit of %d", ErrUpstream, u, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUpstream, u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s: body exceeds the limit of %d bytes", ErrUpstream, u, limit)
	}
	return b, nil
}
