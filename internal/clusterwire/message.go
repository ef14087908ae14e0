package clusterwire

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shoal-cdn/shoal/internal/signalling"
)

// ErrBadMessage wraps every decode and validation failure.
var ErrBadMessage = errors.New("clusterwire: bad message")

// Limits on what a decoder accepts, so a bad message cannot make a node allocate
// without bound (NATS itself caps a message at its max_payload, 1 MiB by default).
const (
	MaxPeers      = 20000 // peers in one Restore
	MaxOuts       = 4096  // messages in one Delivery
	MaxNeighbours = 1024  // neighbours claimed by one restored peer
	MaxSwarms     = 10000 // swarms in one Streams answer
	MaxPolicies   = 10000 // policies in one Hello
)

// Request operations (Request.Op).
const (
	OpJoin    = "join"    // Peer joins Swarm; answered with a JoinReply
	OpLeave   = "leave"   // From left Swarm (or its connection ended)
	OpMessage = "message" // Msg (signal, stats, report: client JSON) from From in Swarm
	OpRestore = "restore" // Peers, held by Node, were members of Swarm under a previous owner
	// WebTorrent (GET /announce, docs/webtorrent.md): Stream is the hex info hash and
	// Rendition WebTorrentRendition; Conn is the connection on Node.
	OpWTAnnounce = "wt_announce" // Msg: the client's announce as it sent it, Addr its address
	OpWTClose    = "wt_close"    // connection Conn closed
	OpWTScrape   = "wt_scrape"   // Msg: the client's scrape as it sent it; the owner answers for the swarms it owns
)

// WebTorrentRendition is the Rendition of a WebTorrent swarm (one per info hash,
// Stream its hex), as the tracker keys it (announce.Rendition); no native rendition
// name contains '#'.
const WebTorrentRendition = "#webtorrent"

// Beat says a node is alive (Leaving false) or draining (Leaving true: take over now).
type Beat struct {
	Node    string `json:"node"`
	Leaving bool   `json:"leaving,omitempty"`
}

// Hello answers a newcomer with a node's view of the operator's policies.
type Hello struct {
	Node     string                       `json:"node"`
	Policies map[string]signalling.Policy `json:"policies"`
}

// Peer is a member's record (swarm.Peer; Degree only in store replies); Joined is Unix
// nanoseconds.
type Peer struct {
	ID             string `json:"id"`
	Addr           string `json:"addr"`
	Region         string `json:"region,omitempty"`
	UploadCapacity int64  `json:"upload_capacity"`
	Limit          int    `json:"limit"`
	Joined         int64  `json:"joined"`
	Degree         int    `json:"degree,omitempty"` // store replies only (swarm.Peer.Degree)
	// Pos and PosAt (Unix nanoseconds; 0 = none) are swarm.Peer's title position.
	Pos   float64 `json:"pos,omitempty"`
	PosAt int64   `json:"pos_at,omitempty"`
}

// Restored is one member as the node holding its connection last saw it.
type Restored struct {
	Peer       Peer              `json:"peer"`
	Neighbours []string          `json:"neighbours"`
	Stripe     signalling.Stripe `json:"stripe,omitzero"`
}

// Request goes to a swarm's owner from the node holding the connection (Node).
type Request struct {
	Op        string          `json:"op"`
	Node      string          `json:"node"`
	Stream    string          `json:"stream"`
	Rendition string          `json:"rendition"`
	From      string          `json:"from,omitempty"`  // leave, message
	Peer      *Peer           `json:"peer,omitempty"`  // join
	Msg       json.RawMessage `json:"msg,omitempty"`   // message: a client message (docs/tracker.md)
	Peers     []Restored      `json:"peers,omitempty"` // restore
	Conn      uint64          `json:"conn,omitempty"`  // wt_announce, wt_close
	Addr      string          `json:"addr,omitempty"`  // wt_announce
}

// JoinReply answers OpJoin: the welcome and the record as the owner completed it
// (Limit, Joined), or Error: "banned", "full" or "internal".
type JoinReply struct {
	Welcome *signalling.Welcome `json:"welcome,omitempty"`
	Peer    *Peer               `json:"peer,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// JoinReply errors.
const (
	JoinBanned   = "banned"
	JoinFull     = "full"
	JoinInternal = "internal"
)

// Out is one tracker message (docs/tracker.md, server → client) for peer To.
// Close: disconnect To once Msg is written (the owner already removed it). With Conn
// set it is instead a WebTorrent tracker message (docs/webtorrent.md, server →
// client) for that /announce connection of the receiving node, and To is empty.
type Out struct {
	Stream    string          `json:"stream"`
	Rendition string          `json:"rendition"`
	To        string          `json:"to"`
	Conn      uint64          `json:"conn,omitempty"`
	Close     bool            `json:"close,omitempty"`
	Msg       json.RawMessage `json:"msg"`
}

// Delivery carries an owner's messages, in decision order, to one node.
type Delivery struct {
	Outs []Out `json:"outs"`
}

// PolicyChange is the operator setting a stream's policy on any node.
type PolicyChange struct {
	Stream string            `json:"stream"`
	Policy signalling.Policy `json:"policy"`
}

// SwarmStats is one swarm as its owner counts it (swarm.SwarmStats).
type SwarmStats struct {
	Stream    string `json:"stream"`
	Rendition string `json:"rendition"`
	Peers     int    `json:"peers"`
	Capacity  int64  `json:"capacity"`
	BytesCDN  uint64 `json:"bytes_cdn"`
	BytesP2P  uint64 `json:"bytes_p2p"`
	BytesUp   uint64 `json:"bytes_up"`
	Stalls    uint64 `json:"stalls"`
}

// Streams answers a streams request: the swarms Node owns.
type Streams struct {
	Node   string       `json:"node"`
	Swarms []SwarmStats `json:"swarms"`
}

// Message is any of the above; Encode and Decode take one.
type Message interface {
	validate() error
}

// Encode returns m's JSON form (the canonical bytes of testdata/cluster).
func Encode(m Message) ([]byte, error) { return json.Marshal(m) }

// Decode parses b into m and validates it; errors wrap ErrBadMessage.
func Decode(b []byte, m Message) error {
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}

// ValidNode reports whether s can name a node (a NATS subject token): [A-Za-z0-9_-]{1,64}.
func ValidNode(s string) bool { return signalling.ValidName(s) }

func checkSwarm(stream, rendition string) error {
	if !signalling.ValidName(stream) || (!signalling.ValidName(rendition) && rendition != WebTorrentRendition) {
		return fmt.Errorf("bad swarm %q/%q", stream, rendition)
	}
	return nil
}

func checkNode(n string) error {
	if !ValidNode(n) {
		return fmt.Errorf("bad node %q", n)
	}
	return nil
}

func checkStripe(s signalling.Stripe) error {
	if s == (signalling.Stripe{}) {
		return nil
	}
	if s.Count < 1 || s.Count > 1024 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("bad stripe %d/%d", s.Index, s.Count)
	}
	return nil
}

func (b *Beat) validate() error { return checkNode(b.Node) }
func (h *Hello) validate() error {
	if len(h.Policies) > MaxPolicies {
		return fmt.Errorf("%d policies", len(h.Policies))
	}
	for s := range h.Policies {
		if !signalling.ValidName(s) {
			return fmt.Errorf("bad stream %q", s)
		}
	}
	return checkNode(h.Node)
}

func (p *Peer) validate() error {
	switch {
	case !signalling.ValidPeerID(p.ID):
		return fmt.Errorf("bad peer id %q", p.ID)
	case len(p.Addr) > 64 || len(p.Region) > 64:
		return fmt.Errorf("peer %s: address or region too long", p.ID)
	case p.UploadCapacity < 0 || p.Limit < 0 || p.Limit > MaxNeighbours:
		return fmt.Errorf("peer %s: negative capacity or bad limit", p.ID)
	}
	return p.checkPos()
}

// checkPos checks the title position: within [0, signalling.MaxPosition], and a
// time only with it.
func (p *Peer) checkPos() error {
	if !(p.Pos >= 0 && p.Pos <= signalling.MaxPosition) || (p.Pos != 0 && p.PosAt == 0) {
		return fmt.Errorf("peer %s: bad position %v at %d", p.ID, p.Pos, p.PosAt)
	}
	return nil
}

func (r *Request) validate() error {
	if err := checkNode(r.Node); err != nil {
		return err
	}
	if err := checkSwarm(r.Stream, r.Rendition); err != nil {
		return err
	}
	switch r.Op {
	case OpJoin:
		if r.Peer == nil {
			return errors.New("join without peer")
		}
		return r.Peer.validate()
	case OpLeave, OpMessage:
		if !signalling.ValidPeerID(r.From) {
			return fmt.Errorf("bad from %q", r.From)
		}
		if r.Op == OpMessage && len(r.Msg) == 0 {
			return errors.New("message without msg")
		}
	case OpWTAnnounce, OpWTClose, OpWTScrape:
		if r.Conn == 0 || r.Rendition != WebTorrentRendition || len(r.Addr) > 64 {
			return errors.New("webtorrent request without conn, or bad rendition or address")
		}
		if (r.Op == OpWTAnnounce || r.Op == OpWTScrape) && len(r.Msg) == 0 {
			return fmt.Errorf("%s without msg", r.Op)
		}
	case OpRestore:
		if len(r.Peers) > MaxPeers {
			return fmt.Errorf("%d peers", len(r.Peers))
		}
		for i := range r.Peers {
			rp := &r.Peers[i]
			if err := rp.Peer.validate(); err != nil {
				return err
			}
			if len(rp.Neighbours) > MaxNeighbours {
				return fmt.Errorf("peer %s: %d neighbours", rp.Peer.ID, len(rp.Neighbours))
			}
			for _, n := range rp.Neighbours {
				if !signalling.ValidPeerID(n) {
					return fmt.Errorf("peer %s: bad neighbour %q", rp.Peer.ID, n)
				}
			}
			if err := checkStripe(rp.Stripe); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	return nil
}

func (j *JoinReply) validate() error {
	switch j.Error {
	case "":
		if j.Welcome == nil || j.Peer == nil {
			return errors.New("join reply without welcome or peer")
		}
		if err := checkStripe(j.Welcome.Stripe); err != nil {
			return err
		}
		return j.Peer.validate()
	case JoinBanned, JoinFull, JoinInternal:
		return nil
	}
	return fmt.Errorf("unknown join error %q", j.Error)
}

func (d *Delivery) validate() error {
	if len(d.Outs) > MaxOuts {
		return fmt.Errorf("%d outs", len(d.Outs))
	}
	for _, o := range d.Outs {
		if err := checkSwarm(o.Stream, o.Rendition); err != nil {
			return err
		}
		if o.Conn != 0 {
			if o.To != "" || o.Close || len(o.Msg) == 0 {
				return fmt.Errorf("bad webtorrent out to conn %d", o.Conn)
			}
			continue
		}
		if !signalling.ValidPeerID(o.To) || len(o.Msg) == 0 {
			return fmt.Errorf("bad out to %q", o.To)
		}
	}
	return nil
}

func (p *PolicyChange) validate() error {
	if !signalling.ValidName(p.Stream) {
		return fmt.Errorf("bad stream %q", p.Stream)
	}
	return nil
}

func (s *Streams) validate() error {
	if len(s.Swarms) > MaxSwarms {
		return fmt.Errorf("%d swarms", len(s.Swarms))
	}
	for _, sw := range s.Swarms {
		if err := checkSwarm(sw.Stream, sw.Rendition); err != nil {
			return err
		}
		if sw.Peers < 0 {
			return errors.New("negative peers")
		}
	}
	return checkNode(s.Node)
}
