package origin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/media"
)

// TestFFmpegPushTS pushes 8 s of MPEG-TS with ffmpeg exactly as documented and checks
// the published rendition: a bounded window with a correct media sequence, unique
// immutable segment names, verifying records, older segments still fetchable, the
// encoder's ENDLIST carried over, and a playable result.
func TestFFmpegPushTS(t *testing.T) {
	_, srv := start(t, Config{Window: 3})
	ffmpegPush(t, 8, srv.URL+"/ingest/cam/index.m3u8", x264...)

	pl, segs := checkSegments(t, srv.URL, "cam", "index")
	if len(pl.Segments) != 3 || pl.MediaSequence != 1 || !pl.Endlist {
		t.Fatalf("playlist: %d segments, media sequence %d, endlist %v; want 3, 1, true",
			len(pl.Segments), pl.MediaSequence, pl.Endlist)
	}
	// Segment 0 left the listed window but stays fetchable.
	epoch, _, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[0].URI, "index/"))
	old := get(t, srv.URL+"/live/cam/index/"+media.SegmentName(epoch, 0, ".ts"))
	if old.code != http.StatusOK || media.Sniff(media.KindTS, old.body) != nil {
		t.Fatalf("unlisted segment 0: %d", old.code)
	}
	if len(segs) != 3 {
		t.Fatalf("%d segments fetched", len(segs))
	}
	// The window still decodes: 3 × 2 s at 25 fps.
	if n := ffmpegDecode(t, srv.URL+"/live/cam/index.m3u8"); n < 140 || n > 160 {
		t.Errorf("decoded %d frames, want about 150", n)
	}
	if r := get(t, srv.URL+"/live/cam/master.m3u8"); r.code != http.StatusNotFound {
		t.Errorf("master of a single-rendition stream: %d", r.code)
	}
}

// TestFFmpegPushFMP4 pushes fMP4 (init.mp4 + .m4s): the init section is published per
// epoch and referenced by EXT-X-MAP.
func TestFFmpegPushFMP4(t *testing.T) {
	_, srv := start(t, Config{})
	ffmpegPush(t, 6, srv.URL+"/ingest/f/index.m3u8", append(x264, "-hls_segment_type", "fmp4")...)
	pl, _ := checkSegments(t, srv.URL, "f", "index")
	if pl.Map == nil || !strings.HasSuffix(pl.Map.URI, "-init.mp4") || len(pl.Segments) != 3 {
		t.Fatalf("playlist: map %+v, %d segments", pl.Map, len(pl.Segments))
	}
	r := get(t, srv.URL+"/live/f/"+pl.Map.URI)
	if r.header.Get("Content-Type") != "video/mp4" || r.header.Get("Cache-Control") != cacheImmutable {
		t.Errorf("init headers: %v", r.header)
	}
	if n := ffmpegDecode(t, srv.URL+"/live/f/index.m3u8"); n < 140 || n > 160 {
		t.Errorf("decoded %d frames, want about 150", n)
	}
}

// TestFFmpegPushABR pushes a 2-rendition ladder with a master playlist, in MPEG-TS
// and in fMP4 (one init section per rendition).
func TestFFmpegPushABR(t *testing.T) {
	for _, typ := range []string{"mpegts", "fmp4"} {
		t.Run(typ, func(t *testing.T) {
			_, srv := start(t, Config{})
			opts := []string{
				"-filter_complex", "[0:v]split=2[a][b];[b]scale=160:120[b2]",
				"-map", "[a]", "-map", "[b2]", "-map", "1:a", "-map", "1:a",
			}
			opts = append(opts, x264...)
			opts = append(opts, "-hls_segment_type", typ,
				"-var_stream_map", "v:0,a:0 v:1,a:1", "-master_pl_name", "master.m3u8")
			ffmpegPush(t, 6, srv.URL+"/ingest/abr/index_%v.m3u8", opts...)

			r := get(t, srv.URL+"/live/abr/master.m3u8")
			if r.code != http.StatusOK {
				t.Fatalf("master: %d %s", r.code, r.body)
			}
			m, err := media.ParseMultivariant(r.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Variants) != 2 || m.Variants[0].URI != "index_0.m3u8" || m.Variants[1].URI != "index_1.m3u8" {
				t.Fatalf("master:\n%s", r.body)
			}
			epochs := map[string]bool{}
			inits := map[string]bool{}
			for _, rend := range []string{"index_0", "index_1"} {
				pl, _ := checkSegments(t, srv.URL, "abr", rend)
				if len(pl.Segments) != 3 {
					t.Errorf("%s: %d segments", rend, len(pl.Segments))
				}
				for _, s := range pl.Segments {
					if s.Discontinuity {
						t.Errorf("%s: discontinuity in one encoder session", rend)
					}
				}
				ep, _, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[0].URI, rend+"/"))
				epochs[ep] = true
				if (pl.Map != nil) != (typ == "fmp4") {
					t.Errorf("%s: EXT-X-MAP %+v", rend, pl.Map)
				}
				if pl.Map != nil {
					inits[string(get(t, srv.URL+"/live/abr/"+pl.Map.URI).body)] = true
				}
			}
			if len(epochs) != 1 {
				t.Errorf("renditions of one encoder in different epochs: %v", epochs)
			}
			if typ == "fmp4" && len(inits) != 2 {
				t.Errorf("%d distinct init sections, want 2", len(inits))
			}
			if n := ffmpegDecode(t, srv.URL+"/live/abr/master.m3u8"); n < 140 {
				t.Errorf("decoded %d frames through the master playlist", n)
			}
		})
	}
}

// TestFFmpegPushRealtime pushes in real time (-re), as a live encoder does: segment
// bodies stream for a whole segment duration and race the playlists. The stream is
// live while the push runs, and complete after.
func TestFFmpegPushRealtime(t *testing.T) {
	_, srv := start(t, Config{})
	done := make(chan error, 1)
	go func() {
		done <- ffmpegPushErr(6, srv.URL+"/ingest/rt/index.m3u8", append([]string{"-re"}, x264...)...)
	}()
	waitFor(t, 10*time.Second, "a live playlist", func() bool {
		return get(t, srv.URL+"/live/rt/index.m3u8").code == http.StatusOK
	})
	if pl := mediaPlaylist(t, srv.URL+"/live/rt/index.m3u8"); pl.Endlist || len(pl.Segments) > 2 {
		t.Errorf("mid-push: %d segments, endlist %v", len(pl.Segments), pl.Endlist)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pl, _ := checkSegments(t, srv.URL, "rt", "index")
	if len(pl.Segments) != 3 || !pl.Endlist {
		t.Fatalf("after push: %d segments, endlist %v", len(pl.Segments), pl.Endlist)
	}
}

// TestFFmpegRestart pushes twice to one stream, as an encoder that reconnects: the
// second push starts a new epoch with a discontinuity, published sequence numbers keep
// increasing, and no URL of the first push changes bytes.
func TestFFmpegRestart(t *testing.T) {
	_, srv := start(t, Config{Window: 4})
	url := srv.URL + "/ingest/re/index.m3u8"
	ffmpegPush(t, 4, url, x264...)
	_, first := checkSegments(t, srv.URL, "re", "index")
	if len(first) != 2 {
		t.Fatalf("first push: %d segments", len(first))
	}
	// Other content, same file names: index0.ts, index1.ts, ... again.
	ffmpegPush(t, 4, url, append(x264, "-vf", "negate")...)
	pl, second := checkSegments(t, srv.URL, "re", "index")
	if len(pl.Segments) != 4 || pl.MediaSequence != 0 {
		t.Fatalf("after restart: %d segments from %d", len(pl.Segments), pl.MediaSequence)
	}
	if !pl.Segments[2].Discontinuity || pl.Segments[0].Discontinuity || pl.Segments[3].Discontinuity {
		t.Errorf("discontinuity flags: %v %v %v %v", pl.Segments[0].Discontinuity,
			pl.Segments[1].Discontinuity, pl.Segments[2].Discontinuity, pl.Segments[3].Discontinuity)
	}
	e1, _, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[0].URI, "index/"))
	e2, _, _, _, _ := media.ParseSegmentName(strings.TrimPrefix(pl.Segments[2].URI, "index/"))
	if e1 == e2 {
		t.Fatalf("restart kept epoch %s", e1)
	}
	for i, p := range first {
		if second[i].url != p.url {
			t.Fatalf("first segments renamed: %s vs %s", p.url, second[i].url)
		}
		if r := get(t, p.url); string(r.body) != string(p.data) {
			t.Fatalf("%s changed bytes", p.url)
		}
		if string(second[i+2].data) == string(p.data) {
			t.Fatalf("second push has the bytes of the first")
		}
	}
	if n := ffmpegDecode(t, srv.URL+"/live/re/index.m3u8"); n < 190 || n > 210 {
		t.Errorf("decoded %d frames across the discontinuity, want about 200", n)
	}
}

// TestFFmpegDeleteSegments pushes with -hls_flags delete_segments: ffmpeg DELETEs
// old segments; published ones stay served (they are ours and immutable).
func TestFFmpegDeleteSegments(t *testing.T) {
	_, srv := start(t, Config{Window: 6})
	ffmpegPush(t, 10, srv.URL+"/ingest/del/index.m3u8",
		append(x264, "-hls_list_size", "2", "-hls_flags", "delete_segments")...)
	pl, _ := checkSegments(t, srv.URL, "del", "index")
	if len(pl.Segments) != 5 || pl.MediaSequence != 0 {
		t.Fatalf("%d segments from %d, want 5 from 0", len(pl.Segments), pl.MediaSequence)
	}
}
