package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// vodStream is the title's name in a real-time run.
const vodStream = "title"

// pushTitle publishes the on-demand title of a real-time run as ffmpeg does
// a VOD push: every segment of vodTitleLen (the demo's samples looped, a
// discontinuity at each wrap, or the synthetic encoder's at cfg.Bitrate),
// then the playlist with #EXT-X-PLAYLIST-TYPE:VOD and #EXT-X-ENDLIST; it
// returns once the origin serves the title.
func (e *env) pushTitle(ctx context.Context, cfg Config) error {
	url := e.osrv.URL() + "/ingest/" + e.stream + "/"
	source := cfg.pushed()
	wrap := 0
	if source == nil {
		demo, err := origin.DemoSegments()
		if err != nil {
			return err
		}
		wrap = len(demo)
		source = func(n int) ([]byte, time.Duration) { return demo[n%len(demo)].Data, demo[n%len(demo)].Dur }
	}
	var pl bytes.Buffer
	var body bytes.Buffer
	target := time.Duration(0)
	var total time.Duration
	for n := 0; total < vodTitleLen; n++ {
		data, d := source(n)
		if err := httpPut(ctx, url+fmt.Sprintf("seg%d.ts", n), data); err != nil {
			return err
		}
		if wrap > 0 && n > 0 && n%wrap == 0 {
			body.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&body, "#EXTINF:%.3f,\nseg%d.ts\n", d.Seconds(), n)
		target = max(target, d)
		total += d
	}
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n",
		int((target+time.Second-1)/time.Second))
	pl.Write(body.Bytes())
	pl.WriteString("#EXT-X-ENDLIST\n")
	if err := httpPut(ctx, url+"index.m3u8", pl.Bytes()); err != nil {
		return err
	}
	// The push becomes a title once the origin has settled it (docs/vod.md).
	var err error
	for range 100 {
		if err = e.ref.poll(ctx); err == nil {
			return nil
		}
		if !transport.Sleep(ctx, e.clk, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("bench: title not served: %w", err)
}

// vodCheck is a viewer's check on a title: every segment the engine
// delivers is compared with the origin's bytes as it completes (the proxy
// check of live runs would ask for segments the viewer does not play, and a
// far request on a title is a seek).
func (v *viewer) vodCheck(e *env) func(wire.SegmentID, []byte) {
	base := "/live/" + e.stream + "/" + rendition + "/"
	return func(id wire.SegmentID, data []byte) {
		ref, ok := e.ref.get(base + id.String() + ".ts")
		sum := sha256.Sum256(data)
		v.mu.Lock()
		defer v.mu.Unlock()
		v.checked++
		if !ok || int64(len(data)) != ref.size || sum != ref.sum {
			v.mismatched++
		}
	}
}

// seekDue makes the seeks of the plan that are due at el.
func (v *viewer) seekDue(ctx context.Context, el time.Duration) {
	for v.nextSeek < len(v.spec.Seeks) && v.spec.Seeks[v.nextSeek].At <= el {
		v.p.Seek(ctx, v.spec.Seeks[v.nextSeek].To)
		v.nextSeek++
	}
}
