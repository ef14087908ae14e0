package transport

import (
	"encoding/json"
	"testing"
)

// The JSON shape is the tracker's signal `data` (docs/tracker.md).
func TestSignalJSON(t *testing.T) {
	tests := []string{
		`{"type":"offer","sdp":"v=0\r\n"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1966762134 1 udp 2122260223 192.0.2.10 54321 typ host generation 0","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xr4f"}}`,
		`{"type":"candidate","candidate":{"candidate":""}}`,
	}
	for _, in := range tests {
		var s Signal
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != in {
			t.Errorf("round trip:\n got %s\nwant %s", out, in)
		}
	}
}
