package announce

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ih = "Jm9bS0x2YnZqT1kxWkE4"

func pid(i int) string { return fmt.Sprintf("-PM0203-%012d", i) }

func announce(peer string, offers int) *webtorrent.Announce {
	a := &webtorrent.Announce{InfoHash: ih, PeerID: peer, Event: webtorrent.EventStarted}
	for k := range offers {
		a.Offers = append(a.Offers, webtorrent.Offer{OfferID: fmt.Sprintf("offer-%s-%02d", peer[14:], k), Offer: json.RawMessage(`{"type":"offer","sdp":"v=0"}`)})
	}
	return a
}

// offersTo returns the connections the outs forward offers to.
func offersTo(outs []Out) []ConnID {
	var to []ConnID
	for _, o := range outs {
		if _, ok := o.Msg.(*webtorrent.ForwardedOffer); ok {
			to = append(to, o.To)
		}
	}
	return to
}

// joinPeer opens conn id from addr and announces peer with no offers.
func joinPeer(t *testing.T, c *Core, id ConnID, addr string) {
	t.Helper()
	c.Open(id, addr)
	outs := c.Announce(t0, id, announce(pid(int(id)), 0))
	if _, ok := outs[0].Msg.(*webtorrent.AnnounceReply); !ok || len(outs) != 1 {
		t.Fatalf("join %d: %#v", id, outs)
	}
}

// TestLocality: offers go to peers of the announcer's /24 first, not at random.
func TestLocality(t *testing.T) {
	c := NewCore(CoreConfig{})
	for i := 1; i <= 40; i++ {
		addr := fmt.Sprintf("198.51.100.%d", i) // far
		if i%10 == 0 {
			addr = fmt.Sprintf("203.0.113.%d", i) // near: 10, 20, 30, 40
		}
		joinPeer(t, c, ConnID(i), addr)
	}
	c.Open(100, "203.0.113.77")
	to := offersTo(c.Announce(t0, 100, announce(pid(100), 5)))
	if len(to) != 5 {
		t.Fatalf("%d offers forwarded", len(to))
	}
	near := map[ConnID]bool{10: true, 20: true, 30: true, 40: true}
	for _, id := range to[:4] {
		if !near[id] {
			t.Fatalf("offers went to %v: the four same-/24 peers should come first", to)
		}
	}
	if near[to[4]] {
		t.Fatalf("fifth offer %v", to)
	}
}

// TestPolicy: P2P off forwards no offers; the neighbour bound caps them.
func TestPolicy(t *testing.T) {
	pol := signalling.Policy{P2PEnabled: false, Neighbours: 10}
	c := NewCore(CoreConfig{Policy: func(stream string) signalling.Policy {
		if stream != webtorrent.Hex(ih) {
			t.Errorf("policy asked for %q", stream)
		}
		return pol
	}})
	for i := 1; i <= 8; i++ {
		joinPeer(t, c, ConnID(i), "192.0.2.1")
	}
	c.Open(50, "192.0.2.9")
	if to := offersTo(c.Announce(t0, 50, announce(pid(50), 5))); len(to) != 0 {
		t.Fatalf("P2P off: %d offers forwarded", len(to))
	}
	pol = signalling.Policy{P2PEnabled: true, Neighbours: 2}
	if to := offersTo(c.Announce(t0, 50, announce(pid(50), 5))); len(to) != 2 {
		t.Fatalf("neighbours 2: %d offers forwarded", len(to))
	}
}

// TestBan: an address banned from the swarm in the shared Store is refused.
func TestBan(t *testing.T) {
	store := swarm.NewMemStore(4)
	c := NewCore(CoreConfig{Store: store})
	if err := store.Ban(c.ctx, Key(ih), swarm.Ban{Addr: "192.0.2.66", Until: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c.Open(1, "192.0.2.66")
	outs := c.Announce(t0, 1, announce(pid(1), 0))
	if f, ok := outs[0].Msg.(*webtorrent.Failure); !ok || f.Reason != "this address is banned from this swarm" || f.InfoHash != ih {
		t.Fatalf("%#v", outs)
	}
	if outs := c.Announce(t0.Add(2*time.Hour), 1, announce(pid(1), 0)); len(outs) != 1 {
		t.Fatalf("after the ban: %#v", outs)
	} else if _, ok := outs[0].Msg.(*webtorrent.AnnounceReply); !ok {
		t.Fatalf("after the ban: %#v", outs)
	}
	if st, _ := store.Swarm(c.ctx, Key(ih)); st.Peers != 1 {
		t.Fatalf("store peers %d", st.Peers)
	}
}

// TestAnswers: an answer passes only to the peer whose offer the tracker forwarded to
// the answerer; another connection cannot take over a peer id.
func TestAnswers(t *testing.T) {
	c := NewCore(CoreConfig{})
	joinPeer(t, c, 1, "192.0.2.1")
	c.Open(2, "192.0.2.2")
	outs := c.Announce(t0, 2, announce(pid(2), 1))
	if to := offersTo(outs); len(to) != 1 || to[0] != 1 {
		t.Fatalf("offer to %v", to)
	}
	offer := outs[1].Msg.(*webtorrent.ForwardedOffer)
	ans := &webtorrent.Announce{InfoHash: ih, PeerID: pid(1), Event: webtorrent.EventUpdate, ToPeerID: pid(2), OfferID: offer.OfferID, Answer: json.RawMessage(`{"type":"answer","sdp":"v=0"}`)}
	wrong := *ans
	wrong.OfferID = "not-an-offer-sent-xx"
	if outs := c.Announce(t0, 1, &wrong); len(outs) != 0 {
		t.Fatalf("answer to an unsent offer forwarded: %#v", outs)
	}
	outs = c.Announce(t0, 1, ans)
	if len(outs) != 1 || outs[0].To != 2 {
		t.Fatalf("answer: %#v", outs)
	}
	if a := outs[0].Msg.(*webtorrent.ForwardedAnswer); a.PeerID != pid(1) || a.OfferID != offer.OfferID {
		t.Fatalf("%#v", a)
	}
	c.Open(3, "192.0.2.3")
	outs = c.Announce(t0, 3, announce(pid(1), 0)) // peer 1's id, from another connection
	if f, ok := outs[0].Msg.(*webtorrent.Failure); !ok || f.Reason != "peer_id is in use by another connection" {
		t.Fatalf("%#v", outs)
	}
	if _, _, dropped := c.Counts(); dropped != 1 {
		t.Fatalf("dropped %d", dropped)
	}
}

// TestCounts: complete/incomplete follow the library (left 0 or "completed"), and a
// closed connection leaves every swarm it announced in.
func TestCounts(t *testing.T) {
	c := NewCore(CoreConfig{MaxSwarmsPerConn: 2})
	c.Open(1, "192.0.2.1")
	a := announce(pid(1), 0)
	c.Announce(t0, 1, a)
	a.Event = webtorrent.EventCompleted
	r := c.Announce(t0, 1, a)[0].Msg.(*webtorrent.AnnounceReply)
	if r.Complete != 1 || r.Incomplete != 0 {
		t.Fatalf("%+v", r)
	}
	b := announce(pid(1), 0)
	b.InfoHash = "another-info-hash-01"
	c.Announce(t0, 1, b)
	b.InfoHash = "third-info-hash-0001"
	if f, ok := c.Announce(t0, 1, b)[0].Msg.(*webtorrent.Failure); !ok || f.Reason != "too many swarms on one connection" {
		t.Fatal("third swarm on one connection accepted")
	}
	if p, sw, _ := c.Counts(); p != 2 || sw != 2 {
		t.Fatalf("peers %d swarms %d", p, sw)
	}
	c.Close(t0, 1)
	if p, sw, _ := c.Counts(); p != 0 || sw != 0 {
		t.Fatalf("after close: peers %d swarms %d", p, sw)
	}
	s := c.Scrape(2, &webtorrent.Scrape{InfoHashes: []string{ih}})[0].Msg.(*webtorrent.ScrapeReply)
	if s.Files[0].Complete != 0 || s.Files[0].Incomplete != 0 {
		t.Fatalf("%+v", s)
	}
}
