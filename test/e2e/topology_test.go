package e2e

import (
	"strings"
	"testing"
	"time"
)

// Separate processes: one origin with the demo, two edges in front of it, and a second
// origin that pull-relays the first edge's stream. Every path serves the same segment
// bytes under the same names, and the relay plays.
func TestOriginTwoEdgesAndPullRelay(t *testing.T) {
	t.Parallel()
	origin := startShoal(t, "origin", "--demo")
	edgeA := startShoal(t, "edge", "--origin", origin)
	edgeB := startShoal(t, "edge", "--origin", origin)
	for _, base := range []string{origin, edgeA, edgeB} {
		for _, probe := range []string{"/healthz", "/readyz"} {
			if _, code := get(t, base+probe); code != 200 {
				t.Fatalf("%s%s: %d", base, probe, code)
			}
		}
	}
	pl := waitPlaylist(t, edgeA+"/live/demo/index.m3u8", 3)
	uris := segRE.FindAllString(pl, -1)
	seg := uris[len(uris)-1]
	a, codeA := get(t, edgeA+"/live/demo/"+seg)
	b, codeB := get(t, edgeB+"/live/demo/"+seg)
	o, codeO := get(t, origin+"/live/demo/"+seg)
	if codeA != 200 || codeB != 200 || codeO != 200 || a != o || b != o || len(o) == 0 {
		t.Fatalf("%s: edge A %d (%d B), edge B %d (%d B), origin %d (%d B): bytes differ", seg, codeA, len(a), codeB, len(b), codeO, len(o))
	}
	if m, _ := get(t, edgeB+"/metrics"); !strings.Contains(m, `shoal_edge_origin_fetches_total{kind="segment",stream="demo"}`) {
		t.Fatalf("edge metrics lack shoal_edge_origin_fetches_total for demo")
	}

	relay := startShoal(t, "origin", "--pull", "again="+edgeA+"/live/demo/index.m3u8")
	waitPlaylist(t, relay+"/live/again/index.m3u8", 2)
	pts := decode(t, relay+"/live/again/index.m3u8", 8*time.Second)
	if len(pts) < 8*25-1 {
		t.Fatalf("relay decoded %d frames over 8 s", len(pts))
	}
}
