package announce

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/shoal-cdn/shoal/internal/webtorrent"
)

const goldenDir = "../../testdata/webtorrent"

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// newServer serves a Server on loopback; X-Forwarded-For sets a client's address.
func newServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Addr = func(r *http.Request) string {
		if a := r.Header.Get("X-Forwarded-For"); a != "" {
			return a
		}
		return "127.0.0.1"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { s.Shutdown(); srv.Close() })
	return s, "ws" + strings.TrimPrefix(srv.URL, "http")
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url, addr string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if addr != "" {
		h.Set("X-Forwarded-For", addr)
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &client{t: t, ws: ws}
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message, or nil after wait with none.
func (c *client) next(wait time.Duration) []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil
	}
	return b
}

func (c *client) want(name string) {
	c.t.Helper()
	got, want := c.next(5*time.Second), golden(c.t, name)
	if !bytes.Equal(got, want) {
		c.t.Fatalf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

// TestGoldenSession replays bench/tracker/golden.mjs's session against /announce and
// requires byte for byte the replies bittorrent-tracker 11.2.3 sent.
func TestGoldenSession(t *testing.T) {
	_, url := newServer(t, Config{})
	a, b := dial(t, url, ""), dial(t, url, "")
	a.send(golden(t, "client-announce-started.json"))
	a.want("server-announce.json")
	b.send(golden(t, "client-announce-offers.json"))
	b.want("server-announce-second.json")
	a.want("server-offer.json")
	a.send(golden(t, "client-announce-answer.json"))
	b.want("server-answer.json")
	a.send(golden(t, "client-announce-update.json"))
	a.want("server-announce-update.json")
	b.send(golden(t, "client-announce-completed.json"))
	b.want("server-announce-completed.json")
	b.send(golden(t, "client-announce-binary.json"))
	b.want("server-announce-binary.json")
	a.send(golden(t, "client-scrape.json"))
	a.want("server-scrape.json")
	a.send(golden(t, "client-announce-stopped.json"))
	a.want("server-announce-stopped.json")
	if m := a.next(200 * time.Millisecond); m != nil {
		t.Fatalf("A got an extra message %s (the answerer gets no reply)", m)
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "invalid", "*.json"))
	for _, f := range files {
		name := filepath.Join("invalid", filepath.Base(f))
		b.send(golden(t, name))
		b.want(strings.TrimSuffix(name, ".json") + ".reply")
	}
}

// TestMalformed: garbage gets a failure reason and the connection stays; an oversized
// message gets one and is closed (1009); nothing takes the server down.
func TestMalformed(t *testing.T) {
	s, url := newServer(t, Config{MaxMessageBytes: 4096})
	c := dial(t, url, "")
	for _, m := range []string{`not json`, `{"action":"announce"}`, `[]`, `{"action":"scrape","info_hash":{}}`, "\xff\xfe", `{"action":"announce","info_hash":"Jm9bS0x2YnZqT1kxWkE4","peer_id":"-PM0203-Ab3dE5fG7hI9","offers":"x"}`} {
		c.send([]byte(m))
		got, err := webtorrent.DecodeReply(c.next(5 * time.Second))
		if f, ok := got.(*webtorrent.Failure); err != nil || !ok || f.Reason == "" {
			t.Fatalf("%q: got %#v, %v", m, got, err)
		}
	}
	c.send(golden(t, "client-announce-started.json"))
	c.want("server-announce.json") // still served
	big := `{"action":"announce","offers":[` + strings.Repeat(`{"offer":{"type":"offer","sdp":"v=0"},"offer_id":"abcdefghijklmnopqrst"},`, 100) + `]}`
	c.send([]byte(big))
	if got := string(c.next(5 * time.Second)); got != `{"failure reason":"message larger than the tracker's limit"}` {
		t.Fatalf("got %s", got)
	}
	_, _, err := c.ws.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("close %v", err)
	}
	waitFor(t, func() bool { p, _, _ := s.Core().Counts(); return p == 0 })
}

// TestRateLimit: above the rate the peer gets a failure reason and is closed (1008).
func TestRateLimit(t *testing.T) {
	_, url := newServer(t, Config{RateLimit: 1, RateBurst: 3})
	c := dial(t, url, "")
	for range 4 {
		c.send([]byte(`{"action":"scrape"}`))
	}
	var last []byte
	for m := c.next(5 * time.Second); m != nil; m = c.next(time.Second) {
		last = m
	}
	if string(last) != `{"failure reason":"too many messages"}` {
		t.Fatalf("last message %s", last)
	}
	_, _, err := c.ws.Read(context.Background())
	if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation && !errors.Is(err, context.Canceled) && s != -1 {
		t.Fatalf("close %v", err)
	}
}

// TestCloseLeaves: a closed connection leaves its swarms, counts drop.
func TestCloseLeaves(t *testing.T) {
	s, url := newServer(t, Config{})
	a, b := dial(t, url, ""), dial(t, url, "")
	a.send(golden(t, "client-announce-started.json"))
	a.want("server-announce.json")
	b.send(golden(t, "client-announce-binary.json"))
	b.want("server-announce-binary.json")
	if p, sw, _ := s.Core().Counts(); p != 2 || sw != 2 {
		t.Fatalf("peers %d swarms %d", p, sw)
	}
	b.ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, func() bool { p, sw, _ := s.Core().Counts(); return p == 1 && sw == 1 })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not reached in 5 s")
}
