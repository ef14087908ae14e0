package tracker

import (
	"net/http"
	"testing"
)

func TestStatsAggregation(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.dial(join(demo), "10.0.0.1")
	b := h.dial(join(demo), "10.0.1.1")
	hi := h.dial(join(SwarmKey{Stream: "demo", Rendition: "hi"}), "10.0.2.1")
	if got := h.streams(""); len(got) != 2 || got[0].Offload != 0 || got[0].Peers+got[1].Peers != 3 {
		t.Fatalf("before stats: %+v", got)
	}
	send := func(c *Client, s Stats) {
		t.Helper()
		if err := c.Send(ctxT(t), &s); err != nil {
			t.Fatal(err)
		}
	}
	send(a, Stats{BytesCDN: 100, BytesP2P: 300, BytesUp: 50, Stalls: 1, Playhead: 12.5})
	send(b, Stats{BytesCDN: 200, BytesP2P: 0, BytesUp: 300, Stalls: 0})
	send(b, Stats{BytesCDN: 150, BytesP2P: 100, BytesUp: 250, Stalls: 2}) // cdn and up went backwards: ignored
	send(hi, Stats{BytesCDN: 10})
	want := StreamStats{Stream: "demo", Rendition: "index", Protocol: "shoal", Peers: 2, BytesCDN: 300, BytesP2P: 400, BytesUp: 350, Stalls: 3, Offload: 400.0 / 700}
	eventually(t, "stats aggregated", func() bool {
		got := h.streams("?stream=demo")
		return len(got) == 2 && got[1] == want && got[0].BytesCDN == 10
	})
	// Totals survive the peers that produced them.
	a.Close()
	b.Close()
	want.Peers = 0
	eventually(t, "peers gone, totals kept", func() bool {
		got := h.streams("")
		return len(got) == 2 && got[1] == want
	})
	if got := h.streams("?stream=nope"); len(got) != 0 {
		t.Fatalf("filter: %+v", got)
	}
	resp, err := http.Get(h.srv.URL + "/api/streams?stream=bad%20name")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad stream filter: %s", resp.Status)
	}
	resp, err = http.Post(h.srv.URL+"/api/streams", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/streams: %s", resp.Status)
	}
}
