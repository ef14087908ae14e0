// Package origin is shoal's live HLS origin: it accepts ffmpeg-style HTTP push ingest
// (single renditions and ABR ladders), pulls streams from other HLS servers, and
// publishes a built-in demo stream. Whatever the source, every segment is republished
// under a URL that never repeats and never changes bytes,
//
//	/live/{stream}/{rendition}/{epoch}-{seq}.{ts|m4s}
//
// next to its signed piece-hash record ({epoch}-{seq}.rec, see internal/manifest), in a
// bounded live window per rendition. The URL space is specified in docs/architecture.md.
//
// Ingest model. ffmpeg PUTs each segment and then (or, racing it, just before) the media
// playlist that lists it, one request per file over chunked bodies, and DELETEs segments
// it drops with -hls_flags delete_segments. Segment and init bytes are held as pending
// files of the stream until a media playlist lists them; then they are published in
// playlist order with the playlist's durations. A pending file that no playlist lists
// expires (after QuietTimeout, or earlier when the stream's pending buffer is full).
//
// Epochs. A rendition publishes within the stream's current epoch. An encoder restart,
// detected as a media sequence going backwards, a playlist that ends before what was
// already published, a published segment or init name re-uploaded with different
// bytes, or ingest after the stream had ended, starts a new epoch: its first segment
// carries #EXT-X-DISCONTINUITY and the published sequence number keeps increasing.
//
// Window. Each rendition lists its newest Window segments; the Window segments before
// those are no longer listed but still served, so that a player or edge that read an
// older playlist does not get a 404 mid-fetch. Older ones are dropped.
//
// End of a stream. A stream whose encoder ended its playlist (#EXT-X-ENDLIST) or was
// silent for QuietTimeout serves its playlists with #EXT-X-ENDLIST, and is removed
// Linger later. An encoder that comes back starts a new epoch.
package origin
