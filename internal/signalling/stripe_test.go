package signalling

import (
	"strings"
	"testing"
)

func TestStripeValidation(t *testing.T) {
	for _, tc := range []struct {
		msg string
		ok  bool
	}{
		{`{"type":"stripe","index":0,"count":1}`, true},
		{`{"type":"stripe","index":31,"count":32}`, true},
		{`{"type":"stripe","index":0,"count":0}`, true},
		{`{"type":"stripe"}`, true}, // absent = 0: not a seeder
		{`{"type":"stripe","index":3,"count":3}`, false},
		{`{"type":"stripe","index":-1,"count":3}`, false},
		{`{"type":"stripe","index":2,"count":0}`, false},
		{`{"type":"stripe","index":0,"count":-1}`, false},
		{`{"type":"stripe","index":0,"count":1025}`, false},
		{`{"type":"stripe","index":0.5,"count":2}`, false},
		{`{"type":"welcome","peer_id":"abc","policy":{},"neighbours":[],"stripe":{"index":1,"count":2}}`, true},
		{`{"type":"welcome","peer_id":"abc","policy":{},"neighbours":[],"stripe":{"index":2,"count":2}}`, false},
	} {
		_, err := DecodeServer([]byte(tc.msg))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.msg, err, tc.ok)
		}
	}
	// A stripe is not something a client may send.
	if _, err := DecodeClient([]byte(`{"type":"stripe","index":0,"count":1}`)); err == nil {
		t.Error("client stripe message accepted")
	}
	// No stripe in a welcome encodes as no member at all (older clients see nothing new).
	b, err := Encode(&Welcome{PeerID: "abc", Neighbours: []Neighbour{}})
	if err != nil || string(b) != `{"type":"welcome","peer_id":"abc","policy":{"p2p_enabled":false,"max_upload":0,"neighbours":0},"neighbours":[]}` {
		t.Fatalf("%s %v", b, err)
	}
}

// TestWelcomeFailoverLists: the welcome's trackers and edges decode, are bounded,
// and must be WebSocket and HTTP URLs respectively; absent, they encode as nothing.
func TestWelcomeFailoverLists(t *testing.T) {
	base := `{"type":"welcome","peer_id":"T7mFq2ZkSe-2b0pU9yH1aQ","policy":{},"neighbours":[]`
	many := `"` + strings.Repeat(`http://e",  "`, MaxWelcomeURLs) + `http://e"`
	for _, tc := range []struct {
		extra string
		ok    bool
	}{
		{`,"trackers":["wss://b/tracker"],"edges":["https://e2"]}`, true},
		{`,"edges":["ftp://e2"]}`, false},
		{`,"edges":["http://"]}`, false},
		{`,"trackers":["https://b/tracker"]}`, false},
		{`,"edges":["http://` + strings.Repeat("x", MaxURLBytes) + `"]}`, false},
		{`,"edges":[` + strings.ReplaceAll(many, `",  "`, `","`) + `]}`, false},
	} {
		m, err := DecodeServer([]byte(base + tc.extra))
		if (err == nil) != tc.ok {
			t.Fatalf("%s: %v, %v", tc.extra, m, err)
		}
		if tc.ok {
			w := m.(*Welcome)
			if len(w.Trackers) != 1 || w.Edges[0] != "https://e2" {
				t.Fatalf("decoded %+v", w)
			}
		}
	}
}
