package webtorrent

import "encoding/json"

// Message is one WebSocket text message of the protocol.
type Message interface{ isMessage() }

// Events of an announce. An absent, null, false, 0 or empty event, and "empty", mean
// EventUpdate, as in the library.
const (
	EventStarted   = "started"
	EventStopped   = "stopped"
	EventCompleted = "completed"
	EventUpdate    = "update"
	EventPaused    = "paused"
)

// Limits of the library that clients rely on.
const (
	// MaxOffers is the most offers one announce has forwarded (the library's
	// MAX_ANNOUNCE_PEERS); further offers are ignored, as there.
	MaxOffers = 82
	// Interval is the announce interval the library tells WebSocket clients (seconds):
	// a fifth of its 10-minute default.
	Interval = 120
	// MinScrapeInterval is the library's flags.min_request_interval in scrape answers.
	MinScrapeInterval = 600
)

// Announce (client → tracker) joins, updates or leaves the swarm InfoHash, sends
// offers to be forwarded to other peers, or answers an offer (Answer set).
type Announce struct {
	InfoHash string // 20 bytes
	PeerID   string // 20 bytes; the id other peers know this one by
	Event    string // one of the Event constants, or anything else (refused by the tracker with "invalid event")
	NumWant  *int64 // as sent; informational: over WebSocket the offers decide
	// Uploaded and Downloaded are the client's cumulative byte counts, nil if absent or
	// not a non-negative integer.
	Uploaded, Downloaded *uint64
	// Left is the client's bytes left as a number (0 when Complete), nil otherwise.
	Left *float64
	// Complete is left == 0 as JavaScript's Number(left) sees it (so null, false and ""
	// are complete too, an absent left is not).
	Complete bool
	Offers   []Offer // at most MaxOffers kept
	// An answer to an offer: ToPeerID is the offerer, OfferID its offer's id.
	Answer   json.RawMessage // a JSON object (compacted), nil if none
	ToPeerID string
	OfferID  string
}

// Offer is one WebRTC offer an announcing peer wants forwarded to another peer.
type Offer struct {
	OfferID string          // 20 bytes, chosen by the offerer
	Offer   json.RawMessage // a JSON object ({"type":"offer","sdp":…}), compacted
}

// Scrape (client → tracker) asks for the counts of some swarms, or of all (InfoHashes nil).
type Scrape struct {
	InfoHashes []string // 20 bytes each; nil = all
}

// AnnounceReply (tracker → client) answers an announce that has no answer.
type AnnounceReply struct {
	InfoHash   string
	Complete   int
	Incomplete int
	Interval   int // seconds
}

// ForwardedOffer (tracker → client) is another peer's offer: answer it with an
// Announce carrying Answer, ToPeerID = PeerID and the same OfferID.
type ForwardedOffer struct {
	InfoHash string
	PeerID   string // the offerer
	OfferID  string
	Offer    json.RawMessage
}

// ForwardedAnswer (tracker → client) is the answer to one of this peer's offers.
type ForwardedAnswer struct {
	InfoHash string
	PeerID   string // the answerer
	OfferID  string
	Answer   json.RawMessage
}

// ScrapeReply (tracker → client) has the counts of the swarms asked for, in order.
type ScrapeReply struct {
	Files       []ScrapeFile
	MinInterval int // seconds (flags.min_request_interval)
}

// ScrapeFile is one swarm's counts. Downloaded is the library's lower bound: Complete.
type ScrapeFile struct {
	InfoHash             string
	Complete, Incomplete int
}

// Failure (tracker → client) refuses a request. Action and InfoHash are set when the
// request itself was understood ({"action","failure reason","info_hash"}), empty when
// it could not be parsed ({"failure reason"} alone), as in the library.
type Failure struct {
	Action   string // "announce" or "scrape", or ""
	Reason   string
	InfoHash string
}

func (*Announce) isMessage()        {}
func (*Scrape) isMessage()          {}
func (*AnnounceReply) isMessage()   {}
func (*ForwardedOffer) isMessage()  {}
func (*ForwardedAnswer) isMessage() {}
func (*ScrapeReply) isMessage()     {}
func (*Failure) isMessage()         {}
