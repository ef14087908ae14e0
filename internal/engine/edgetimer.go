package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
)

// Bounds of the urgent window the edge timer derives (scheduler.Policy.Urgent:
// pieces due within it come from the edge).
const (
	// minUrgent: never closer to a deadline than this, however fast the edge
	// looks; a window shorter than a scheduling tick plus a TCP round trip
	// under load would turn one late answer into a stall.
	minUrgent = 500 * time.Millisecond
	// maxUrgent: the scheduler's default, used until the edge was timed.
	maxUrgent = scheduler.DefaultUrgent
	// urgentFactor × the conservative time to fetch a whole segment: the
	// scheduler hands in-flight neighbour requests to the edge at half the
	// window (Handover), so the edge still gets a whole estimate after that.
	urgentFactor = 2
	// minRateSample: bodies smaller than this arrive in one burst and say
	// nothing about the rate.
	minRateSample = 64 << 10
)

// edgeTimer estimates how long the edge takes to deliver a whole segment, from
// the fetches the engine makes anyway (startup and seeding fetch whole
// segments or stripes): the time to the response headers, as an average with
// its mean deviation (as TCP estimates its retransmission timeout, RFC 6298),
// and the body rate. The urgent window follows it: a near, fast edge leaves
// the swarm more of each segment's life to spread it, a far or slow one gets
// the scheduler's default. The zero value has no samples (urgent = maxUrgent).
type edgeTimer struct {
	srtt, rttvar time.Duration // time to response headers (queueing included)
	rate         float64       // body bytes/s; 0: no sample yet
	samples      int
}

// observe records one fetch: wait until the headers, then the body of n bytes.
func (e *edgeTimer) observe(wait, body time.Duration, n int64) {
	if wait < 0 || body < 0 {
		return // clock stepped, or a failed fetch without headers
	}
	if e.samples == 0 {
		e.srtt, e.rttvar = wait, wait/2
	} else {
		d := e.srtt - wait
		if d < 0 {
			d = -d
		}
		e.rttvar += (d - e.rttvar) / 4
		e.srtt += (wait - e.srtt) / 8
	}
	e.samples++
	if n >= minRateSample && body > 0 {
		r := float64(n) / body.Seconds()
		if e.rate == 0 {
			e.rate = r
		} else {
			e.rate += (r - e.rate) / 4
		}
	}
}

// urgent is the urgent window for segments of size bytes: urgentFactor × (a
// high estimate of the wait for headers + size at the body rate), within
// [minUrgent, maxUrgent]; maxUrgent until a fetch of the body rate was seen.
func (e *edgeTimer) urgent(size int64) time.Duration {
	if e.samples == 0 || e.rate == 0 {
		return maxUrgent
	}
	need := e.srtt + 4*e.rttvar + time.Duration(float64(size)/e.rate*float64(time.Second))
	return min(maxUrgent, max(minUrgent, urgentFactor*need))
}
