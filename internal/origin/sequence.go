package origin

import "time"

// seqUnit and seqEpoch define the numbering of a fresh rendition's first segment with
// Config.ClockSequence: half-seconds since 2025-01-01 UTC. The counter then advances by
// one per segment while the clock advances by one per seqUnit, so the clock gains on the
// counter by (segment duration / seqUnit − 1) per segment: 3 per 2 s segment, 1 per 1 s
// segment, and 2 per second of downtime. An origin restarted after a SIGKILL, with no
// state, therefore starts above every number the killed one published as long as its
// segments last at least seqUnit and the gain covers the demo's back-filled burst
// (DemoBackfill segments at once, 3 ahead of the clock): any restart 2 s or more after
// the kill, or sooner once the killed origin had run a few segments.
//
// Why not finer, or since 1970: players and libraries parse the media sequence into 32
// bits (gohlslib refuses more; some players use signed 32 bits). Half-seconds since
// 2025 stay below 2^31 until 2059 and below 2^32 until 2093.
const seqUnit = 500 * time.Millisecond

var seqEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// clockSeq is now in seqUnit steps since seqEpoch (0 before it).
func clockSeq(now time.Time) uint64 {
	if !now.After(seqEpoch) {
		return 0
	}
	return uint64(now.Sub(seqEpoch) / seqUnit)
}

// continueFrom starts r's numbering from the wall clock: the media sequence and the
// discontinuity sequence both at clockSeq(now) (discontinuities, at most one per
// segment, cannot outrun it either), and the first segment behind
// #EXT-X-DISCONTINUITY, since it follows whatever a restarted origin's predecessor
// published, from another epoch.
func (r *rendition) continueFrom(now time.Time) {
	n := clockSeq(now)
	r.nextSeq, r.discSeq, r.pendingDisc = n, n, true
}
