package engine

import (
	"time"

	"github.com/shoal-cdn/shoal/internal/scheduler"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Session limits of docs/wire.md.
const (
	maxEarlyFrames = 64
	helloTimeout   = 10 * time.Second
	overCapBackoff = 150 * time.Millisecond // a little more than the uploader needs to drain its busyBacklog
	tputAlpha      = 0.2
	pingEvery      = 2 * time.Second
	pongTimeout    = 10 * time.Second
	// writerTimeout: a piece its writer has not taken by then means the
	// neighbour does not read. Dropped: else its queue would hold the
	// peer-wide backlog (busyBacklog) and refuse everyone else over_cap until
	// pongTimeout. A 16 KiB piece takes 0.3 s at 0.4 Mbit/s.
	writerTimeout = 5 * time.Second
	// ctrlBudget bounds the control frames the core hands a link's writer
	// without the link draining them; beyond it the link is closed (a
	// neighbour that does not read is stuck). The shell enforces it.
	ctrlBudget = 512
)

// neighbour is one connected peer and the protocol state of its link:
// HELLO, what it announced, choke state both ways, requests it sent us
// (the upload queue), and what we measured of it.
type neighbour struct {
	// What every plan and the upload line read comes first, in two cache
	// lines: a large virtual bench touches each neighbour cold.
	id        string
	have      scheduler.Haves // what it announced, per seq
	busyUntil time.Time       // REJECT over_cap: leave it alone until then
	tput      float64         // bytes/s it delivers to us (EWMA)
	rtt       time.Duration
	link      LinkID
	queue     []job // upload: pieces it asked for, in upload order
	ticket    uint64
	upKbps    uint32
	hello     bool
	chokesUs  bool // it chokes us (initially true)
	weChoke   bool
	inWriter  bool // its writer holds one of our pieces (uploader)

	sess    SessionID
	since   time.Time
	helloBy time.Time
	early   []wire.Msg

	// refused are the pieces it refused not_held after announcing them: a peer
	// never gets a piece back once it lost it, so a later HAVE of one is a lie
	// and ignored (else announce → REJECT → announce loops at its RTT).
	refused map[uint64]scheduler.Bitfield

	serialIn  uint32 // last CHOKE/UNCHOKE serial applied
	serialOut uint32

	lastRecv time.Time

	pingToken uint32
	pingSent  time.Time
	lastPong  time.Time

	writerSince time.Time // when the writer took its piece

	push pushState
}

func newNeighbour(id string, l LinkID, s SessionID, now time.Time) *neighbour {
	return &neighbour{id: id, link: l, sess: s, since: now, helloBy: now.Add(helloTimeout),
		chokesUs: true, weChoke: true}
}

// schedView is nb as the scheduler sees it.
// servesNow reports whether nb would take a request from us now: it
// uploads, does not choke us and is not backing us off.
func (nb *neighbour) servesNow(now time.Time) bool {
	return nb.upKbps > 0 && !nb.chokesUs && !now.Before(nb.busyUntil)
}

func (nb *neighbour) schedView(now time.Time) scheduler.Neighbour {
	return scheduler.Neighbour{
		ID: nb.id, Have: nb.have, Throughput: nb.tput, RTT: nb.rtt,
		Choking:  nb.chokesUs || now.Before(nb.busyUntil),
		NoUpload: nb.upKbps == 0,
	}
}

// delivered updates the throughput estimate for a piece of n bytes asked for
// at since (zero: unrequested).
func (nb *neighbour) delivered(n int, since, now time.Time) {
	if !since.IsZero() {
		start := since
		if nb.lastRecv.After(start) {
			start = nb.lastRecv
		}
		if dt := now.Sub(start).Seconds(); dt > 0 {
			sample := float64(n) / dt
			if nb.tput == 0 {
				nb.tput = sample
			} else {
				nb.tput += tputAlpha * (sample - nb.tput)
			}
			nb.tput = min(max(nb.tput, 32<<10), 64<<20)
		}
	}
	nb.lastRecv = now
}

// onChoke applies CHOKE/UNCHOKE with serial; it reports whether it applied.
func (nb *neighbour) onChoke(serial uint32, choke bool) bool {
	if serial <= nb.serialIn {
		return false
	}
	nb.serialIn, nb.chokesUs = serial, choke
	return true
}

// unrefused clears from bf (its announcement of seq) the pieces it refused.
func (nb *neighbour) unrefused(seq uint64, bf scheduler.Bitfield) scheduler.Bitfield {
	for i, w := range nb.refused[seq] {
		if i < len(bf) {
			bf[i] &^= w
		}
	}
	return bf
}

// forget drops what nb announced and refused of seq.
func (nb *neighbour) forget(seq uint64) {
	nb.have.Delete(seq)
	delete(nb.refused, seq)
}

// onReject applies a REJECT of pieces [first, first+count) of seq.
func (nb *neighbour) onReject(seq uint64, first, count int, r wire.Reason, now time.Time) {
	switch r {
	case wire.ReasonNotHeld:
		clearRange(nb.have.Get(seq), first, count)
		if nb.refused == nil {
			nb.refused = make(map[uint64]scheduler.Bitfield)
		}
		nb.refused[seq] = growSet(nb.refused[seq], first, count)
	case wire.ReasonChoked:
		nb.chokesUs = true
	case wire.ReasonUnknownSegment:
		nb.have.Delete(seq)
	default: // over_cap and unknown reasons: back off for a while
		nb.busyUntil = now.Add(overCapBackoff)
	}
}
