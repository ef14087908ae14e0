package cluster

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/shoal-cdn/shoal/internal/announce"
	"github.com/shoal-cdn/shoal/internal/clusterwire"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

func wtDial(t *testing.T, tn *testNode, addr string) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(tn.srv.URL, "http") + "/announce"
	ws, _, err := websocket.Dial(ctxT(t), url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {addr}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func wtSend(t *testing.T, ws *websocket.Conn, m webtorrent.Message) {
	t.Helper()
	b, _ := webtorrent.Encode(m)
	if err := ws.Write(ctxT(t), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// wtUntil reads messages until match accepts one, failing after d.
func wtUntil(t *testing.T, ws *websocket.Conn, d time.Duration, what string, match func(webtorrent.Message) bool) webtorrent.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		m, err := webtorrent.DecodeReply(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if match(m) {
			return m
		}
	}
}

// TestWebTorrentSpansNodes: WebTorrent clients on /announce of two different nodes
// are one swarm: an offer from a client on node 2 reaches the client on node 1, its
// answer comes back, /api/streams on the third node lists the swarm with both, and a
// scrape there counts both.
func TestWebTorrentSpansNodes(t *testing.T) {
	if clusterwire.WebTorrentRendition != announce.Rendition {
		t.Fatalf("clusterwire.WebTorrentRendition %q != announce.Rendition %q", clusterwire.WebTorrentRendition, announce.Rendition)
	}
	nodes := startCluster(t, 3, tracker.Config{})
	const ih = "Jm9bS0x2YnZqT1kxWkE4"
	hexIH := webtorrent.Hex(ih)
	a := wtDial(t, nodes[0], "192.0.2.1")
	wtSend(t, a, &webtorrent.Announce{InfoHash: ih, PeerID: "-PM0203-aaaaaaaaaaaa", Event: webtorrent.EventStarted})
	wtUntil(t, a, 5*time.Second, "a's reply", func(m webtorrent.Message) bool {
		r, ok := m.(*webtorrent.AnnounceReply)
		return ok && r.Incomplete == 1
	})
	b := wtDial(t, nodes[1], "192.0.2.2")
	offer := []byte(`{"type":"offer","sdp":"v=0"}`)
	wtSend(t, b, &webtorrent.Announce{InfoHash: ih, PeerID: "-PM0203-bbbbbbbbbbbb", Event: webtorrent.EventStarted,
		Offers: []webtorrent.Offer{{OfferID: "offer-id-of-20-bytes", Offer: offer}}})
	o := wtUntil(t, a, 5*time.Second, "b's offer on node 1", func(m webtorrent.Message) bool {
		_, ok := m.(*webtorrent.ForwardedOffer)
		return ok
	}).(*webtorrent.ForwardedOffer)
	if o.PeerID != "-PM0203-bbbbbbbbbbbb" || o.OfferID != "offer-id-of-20-bytes" || string(o.Offer) != string(offer) {
		t.Fatalf("forwarded offer %+v", o)
	}
	answer := []byte(`{"type":"answer","sdp":"v=0"}`)
	wtSend(t, a, &webtorrent.Announce{InfoHash: ih, PeerID: "-PM0203-aaaaaaaaaaaa", ToPeerID: "-PM0203-bbbbbbbbbbbb",
		OfferID: "offer-id-of-20-bytes", Answer: answer})
	ans := wtUntil(t, b, 5*time.Second, "a's answer on node 2", func(m webtorrent.Message) bool {
		_, ok := m.(*webtorrent.ForwardedAnswer)
		return ok
	}).(*webtorrent.ForwardedAnswer)
	if ans.PeerID != "-PM0203-aaaaaaaaaaaa" || string(ans.Answer) != string(answer) {
		t.Fatalf("forwarded answer %+v", ans)
	}
	wtPeers := func(tn *testNode) int {
		st, err := tn.tr.Streams(ctxT(t), hexIH)
		if err != nil || len(st) != 1 || st[0].Protocol != "webtorrent" {
			return -1
		}
		return st[0].Peers
	}
	for _, tn := range nodes {
		waitFor(t, 5*time.Second, tn.name+" lists the swarm with both", func() bool { return wtPeers(tn) == 2 })
	}
	// A scrape on a node that holds neither client is answered by the swarm's owner,
	// which counts both; one that names every swarm too.
	c := wtDial(t, nodes[2], "192.0.2.3")
	wtSend(t, c, &webtorrent.Scrape{InfoHashes: []string{ih}})
	sr := wtUntil(t, c, 5*time.Second, "the scrape's answer", func(m webtorrent.Message) bool {
		_, ok := m.(*webtorrent.ScrapeReply)
		return ok
	}).(*webtorrent.ScrapeReply)
	if len(sr.Files) != 1 || sr.Files[0].InfoHash != ih || sr.Files[0].Complete+sr.Files[0].Incomplete != 2 {
		t.Fatalf("scrape of the swarm on node 3: %+v, want it with 2 peers", sr.Files)
	}
	wtSend(t, c, &webtorrent.Scrape{})
	wtUntil(t, c, 5*time.Second, "the scrape of every swarm listing ours", func(m webtorrent.Message) bool {
		r, ok := m.(*webtorrent.ScrapeReply)
		return ok && slices.ContainsFunc(r.Files, func(f webtorrent.ScrapeFile) bool { return f.InfoHash == ih && f.Complete+f.Incomplete == 2 })
	})
	a.Close(websocket.StatusNormalClosure, "")
	waitFor(t, 5*time.Second, "node 3 counts one after a closed", func() bool { return wtPeers(nodes[2]) == 1 })
}

// TestWebTorrentMembersOutliveOwner: when a WebTorrent swarm's owner dies, the nodes
// holding its clients announce them to the new owner at once (not at their next
// announce, 120 s later): the survivors list the swarm with both within seconds.
func TestWebTorrentMembersOutliveOwner(t *testing.T) {
	nodes := startCluster(t, 3, tracker.Config{})
	view := nodes[0].node.Nodes()
	ih := ""
	for c := 'a'; c <= 'z' && ih == ""; c++ {
		if h := "Jm9bS0x2YnZqT1kxWkE" + string(c); OwnerOf(view, announce.Key(h)) == "n3" {
			ih = h
		}
	}
	if ih == "" {
		t.Fatal("no info hash owned by n3")
	}
	for i, tn := range nodes[:2] {
		ws := wtDial(t, tn, fmt.Sprintf("192.0.2.%d", i+1))
		wtSend(t, ws, &webtorrent.Announce{InfoHash: ih, PeerID: fmt.Sprintf("-PM0203-%012d", i), Event: webtorrent.EventStarted})
	}
	peers := func(tn *testNode) int {
		st, err := tn.tr.Streams(ctxT(t), webtorrent.Hex(ih))
		if err != nil || len(st) != 1 {
			return -1
		}
		return st[0].Peers
	}
	waitFor(t, 5*time.Second, "n1 lists the swarm with both", func() bool { return peers(nodes[0]) == 2 })
	nodes[2].kill()
	waitFor(t, 10*time.Second, "the survivors see two nodes", func() bool {
		return len(nodes[0].node.Nodes()) == 2 && len(nodes[1].node.Nodes()) == 2
	})
	waitFor(t, 5*time.Second, "the new owner knows both members", func() bool { return peers(nodes[0]) == 2 && peers(nodes[1]) == 2 })
}
