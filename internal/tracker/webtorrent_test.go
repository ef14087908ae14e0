package tracker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

// wtPeer announces on the tracker's GET /announce like a p2p-media-loader page.
func wtPeer(t *testing.T, h *harness, addr string) *websocket.Conn {
	t.Helper()
	url := strings.TrimSuffix(h.url, "/tracker") + "/announce"
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

// wtRecv returns the next message, nil after wait.
func wtRecv(t *testing.T, ws *websocket.Conn, wait time.Duration) webtorrent.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		return nil
	}
	m, err := webtorrent.DecodeReply(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// TestWebTorrentSwarm: /announce swarms share the tracker's Store (listed in
// /api/streams with protocol "webtorrent") and its per-stream policy.
func TestWebTorrentSwarm(t *testing.T) {
	h := newHarness(t, Config{})
	const ih = "Jm9bS0x2YnZqT1kxWkE4"
	up := uint64(4096)
	start := func(peer string, offers int) *webtorrent.Announce {
		a := &webtorrent.Announce{InfoHash: ih, PeerID: peer, Event: webtorrent.EventStarted, Uploaded: &up}
		for range offers {
			a.Offers = append(a.Offers, webtorrent.Offer{OfferID: "offer-id-of-20-bytes", Offer: []byte(`{"type":"offer","sdp":"v=0"}`)})
		}
		return a
	}
	a := wtPeer(t, h, "192.0.2.1")
	wtSend(t, a, start("-PM0203-aaaaaaaaaaaa", 0))
	if r, ok := wtRecv(t, a, 5*time.Second).(*webtorrent.AnnounceReply); !ok || r.Incomplete != 1 {
		t.Fatalf("reply %#v", r)
	}
	b := wtPeer(t, h, "192.0.2.2")
	wtSend(t, b, start("-PM0203-bbbbbbbbbbbb", 5))
	wtRecv(t, b, 5*time.Second)
	if o, ok := wtRecv(t, a, 5*time.Second).(*webtorrent.ForwardedOffer); !ok || o.PeerID != "-PM0203-bbbbbbbbbbbb" {
		t.Fatalf("offer %#v", o)
	}
	hexIH := webtorrent.Hex(ih)
	eventually(t, "webtorrent swarm listed", func() bool {
		got := h.streams("?stream=" + hexIH)
		return len(got) == 1 && got[0] == StreamStats{Stream: hexIH, Rendition: "", Protocol: "webtorrent", Peers: 2, BytesUp: 2 * up}
	})

	h.tr.SetPolicy(hexIH, Policy{P2PEnabled: false})
	c := wtPeer(t, h, "192.0.2.3")
	wtSend(t, c, start("-PM0203-cccccccccccc", 5))
	wtRecv(t, c, 5*time.Second)
	if m := wtRecv(t, a, 300*time.Millisecond); m != nil {
		t.Fatalf("P2P off for the stream, yet %#v", m)
	}
}
