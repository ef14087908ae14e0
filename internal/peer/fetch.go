package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// fetchPlaylistAsync fetches and parses the media playlist for the core.
func (p *Peer) fetchPlaylistAsync(ctx context.Context) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		b, err := p.cdn.get(ctx, p.cfg.Rendition+".m3u8", maxPlaylistBytes, false)
		var pl *livePlaylist
		if err == nil {
			pl, err = parsePlaylist(b, p.cfg.Rendition)
		}
		ev := engine.PlaylistFetched{Err: err}
		if pl != nil {
			ev.Target, ev.Entries, ev.Ended = pl.target, pl.entries, pl.ended
			p.mu.Lock()
			first := p.playlist == nil
			p.playlist = pl
			p.mu.Unlock()
			if first {
				close(p.plReady)
			}
		}
		p.post(ctx, evCore{ev})
	}()
}

// fetchRecordAsync fetches and verifies one record for the core.
func (p *Peer) fetchRecordAsync(ctx context.Context, a engine.FetchRecord) {
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		rec, err := p.fetchRecord(ctx, a.ID, a.URI, key)
		p.post(ctx, evCore{engine.RecordFetched{Seq: a.ID.Seq, Rec: rec, Err: err}})
	}()
}

// fetchRecord fetches and verifies the record of segment id, fetching the key
// first if needed (and again, at most every keyRefetch, if the record does not
// verify: the origin may have rotated it).
func (p *Peer) fetchRecord(ctx context.Context, id wire.SegmentID, uri string, key ed25519.PublicKey) (*manifest.Record, error) {
	if key == nil {
		var err error
		if key, err = p.fetchKey(ctx); err != nil {
			return nil, err
		}
	}
	b, err := p.cdn.get(ctx, p.cfg.Rendition+"/"+id.String()+".rec", maxRecordBytes, false)
	if err != nil {
		return nil, err
	}
	rec, err := manifest.Parse(b, key)
	if errors.Is(err, manifest.ErrSignature) && p.cfg.TrustedKey == nil {
		p.mu.Lock()
		stale := p.cfg.Clock.Now().Sub(p.keyAt) > keyRefetch
		p.mu.Unlock()
		if stale {
			if key, err = p.fetchKey(ctx); err != nil {
				return nil, err
			}
			rec, err = manifest.Parse(b, key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("peer: record %s: %w", id, err)
	}
	if rec.Stream != p.cfg.Stream || rec.Rendition != p.cfg.Rendition || rec.Epoch != id.Epoch || rec.Seq != id.Seq || rec.URI != uri {
		return nil, fmt.Errorf("peer: record %s names %s/%s %s-%d %s", id, rec.Stream, rec.Rendition, rec.Epoch, rec.Seq, rec.URI)
	}
	if rec.PieceSize != manifest.PieceSize {
		return nil, fmt.Errorf("peer: record %s: piece size %d", id, rec.PieceSize)
	}
	return rec, nil
}

func (p *Peer) fetchKey(ctx context.Context) (ed25519.PublicKey, error) {
	if p.cfg.TrustedKey != nil {
		return p.cfg.TrustedKey, nil
	}
	b, err := p.cdn.get(ctx, "key", maxKeyBytes, false)
	if err != nil {
		return nil, err
	}
	key, err := manifest.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("peer: stream key: %w", err)
	}
	p.mu.Lock()
	p.key, p.keyAt = key, p.cfg.Clock.Now()
	p.mu.Unlock()
	return key, nil
}

// fetchEdge runs one HTTP Range fetch for the core.
func (p *Peer) fetchEdge(ctx context.Context, a engine.FetchEdge, asked time.Time) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case p.fetchSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-p.fetchSem }()
		fctx, cancel := withTimeout(ctx, p.cfg.Clock, edgeFetchLimit)
		defer cancel()
		var hdr time.Time
		var b []byte
		var err error
		if a.Whole {
			b, err = p.cdn.getMedia(fctx, a.URI, -1, a.Len, &hdr)
			if err == nil && int64(len(b)) != a.Len {
				err = fmt.Errorf("%w: %s: %d bytes, record says %d", ErrHTTP, a.URI, len(b), a.Len)
			}
		} else {
			b, err = p.cdn.getMedia(fctx, a.URI, a.Off, a.Len, &hdr)
		}
		p.post(ctx, evCore{engine.EdgeFetched{Seq: a.Seq, First: a.First, Count: a.Count, Data: b, Err: err,
			Asked: asked, Headers: hdr, Done: p.cfg.Clock.Now()}})
	}()
}
