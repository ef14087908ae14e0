package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/server"
)

// originFlags are the flags of the origin, shared by `shoal origin` and `shoal up`.
type originFlags struct {
	window        *int
	quiet         *time.Duration
	publishToken  *string
	publishSecret *string
	keyFile       *string
	maxSegment    byteSize
	pulls         keyValues
	storeDir      *string
	storeBytes    byteSize
	vodDir        *string
	keepEnded     *time.Duration
	clockSeq      *bool
}

func addOriginFlags(fs *flag.FlagSet) *originFlags {
	o := &originFlags{pulls: keyValues{}, maxSegment: 32 << 20, storeBytes: origin.DefaultStoreBytes}
	o.window = fs.Int("window", 12, "segments kept per rendition in the live window")
	o.quiet = fs.Duration("quiet-timeout", 30*time.Second, "a stream whose encoder sent nothing for this long ends (#EXT-X-ENDLIST) and is removed")
	o.publishToken = fs.String("publish-token", "", "encoders must send this bearer token (or ?token=) to /ingest")
	o.publishSecret = fs.String("publish-secret", "", "encoders must send a per-stream HMAC token signed with this secret")
	o.keyFile = fs.String("key-file", defaultKeyFile(), "Ed25519 signing key (base64 seed); created with mode 0600 if missing. SHOAL_KEY may hold the seed itself")
	fs.Var(&o.maxSegment, "max-segment-bytes", "largest segment accepted at ingest")
	fs.Var(o.pulls, "pull", "re-publish an existing live HLS stream: NAME=URL (repeatable)")
	o.storeDir = fs.String("store-dir", "", "keep on-demand titles (VOD pushes, replays) here across restarts; empty: a temporary directory")
	fs.Var(&o.storeBytes, "store-bytes", "bound on the titles in --store-dir; the oldest not being read are evicted first")
	o.vodDir = fs.String("vod-dir", "", "serve the finished HLS titles of this directory (DIR/TITLE/*.m3u8), never writing to it")
	o.keepEnded = fs.Duration("keep-ended", 0, "keep an ended live stream as an on-demand replay for this long (0: remove it)")
	o.clockSeq = fs.Bool("clock-sequence", false, "number live segments from the wall clock, so an origin restarted after a crash continues the media sequence (docs/reliability.md; off: browser SDK pages stalled with it)")
	return o
}

func defaultKeyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "shoal", "origin.key")
}

// key returns the signing key: SHOAL_KEY (a base64 seed) or the key file.
func (o *originFlags) key() (ed25519.PrivateKey, error) {
	if v := os.Getenv("SHOAL_KEY"); v != "" {
		return manifest.ParsePrivateKey([]byte(v))
	}
	return manifest.LoadOrCreateKey(*o.keyFile)
}

func (o *originFlags) config(demo bool) (origin.Config, error) {
	key, err := o.key()
	if err != nil {
		return origin.Config{}, err
	}
	return origin.Config{
		Window:          *o.window,
		QuietTimeout:    *o.quiet,
		PublishToken:    *o.publishToken,
		PublishSecret:   []byte(*o.publishSecret),
		MaxSegmentBytes: int64(o.maxSegment),
		Demo:            demo,
		Pulls:           o.pulls,
		Key:             key,
		StoreDir:        *o.storeDir,
		StoreBytes:      int64(o.storeBytes),
		VodDir:          *o.vodDir,
		KeepEnded:       *o.keepEnded,
		ClockSequence:   *o.clockSeq,
	}, nil
}

func runOrigin(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("origin", "Ingests live HLS (ffmpeg -method PUT to /ingest/STREAM/index.m3u8, --pull, --demo),\nkeeps a bounded live window and publishes every segment with a signed piece-hash record.\nOn demand: VOD pushes (-hls_playlist_type vod), --vod-dir, --keep-ended; GET /titles, DELETE /titles/NAME.")
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on (port 0 picks a free port)")
	demo := fs.Bool("demo", false, "publish the built-in demo stream \"demo\"")
	of := addOriginFlags(fs)
	cert, key := tlsFlags(fs)
	logger := logFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := logger().With("component", "origin")
	cfg, err := of.config(*demo)
	if err != nil {
		return err
	}
	reg := newRegistry()
	cfg.Logger, cfg.Registerer = log, reg
	o, err := origin.New(cfg)
	if err != nil {
		return err
	}
	defer o.Close()
	return serve(ctx, server.Config{Addr: *listen, TLSCert: *cert, TLSKey: *key, Logger: log},
		withMetrics(reg, o.Handler()), stdout, log,
		func(url string) string {
			return fmt.Sprintf("shoal origin on %s (ingest: %s/ingest/STREAM/index.m3u8)", url, url)
		},
		o.Run)
}
