//go:build !race

package peer

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/manifest"
)

// The chaos test (docs/reliability.md): real `shoal origin`, two `shoal edge` and a
// `shoal tracker` processes, a hybrid group of Go peers and a CDN-only group (no
// tracker) watching the same stream through the same edges, so that both see the same
// faults. Each component in turn is SIGKILLed mid-stream and restarted on its port
// after chaosDown. Per fault the test records stalls of each group, the seconds until
// every viewer has again a segment published after the fault, and the bytes of played
// segments whose signed records do not verify. CHAOS_HYBRID, CHAOS_CDN and CHAOS_OBSERVE
// (seconds) scale it up (scripts/chaos.sh); CHAOS_EDGE_ARGS adds edge flags;
// CHAOS_TABLE names a file for the table.

// chaosDown is how long a killed component stays down.
const chaosDown = 3 * time.Second

// proc is one shoal process that can be SIGKILLed and restarted with the same
// arguments (its port is fixed by them).
type proc struct {
	t      *testing.T
	name   string
	bin    string
	args   []string
	url    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

var bannerURL = regexp.MustCompile(` on (http://127\.0\.0\.1:\d+)`)

func startProc(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, bin: bin, args: args, log: logf}
	p.start()
	t.Cleanup(func() {
		p.mu.Lock()
		cmd, exited := p.cmd, p.exited
		p.mu.Unlock()
		select {
		case <-exited:
		default:
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Errorf("%s did not stop within 10 s of SIGINT", name)
			}
		}
		if t.Failed() || os.Getenv("PEER_TEST_LOG") != "" {
			logf.Seek(0, 0)
			b, _ := io.ReadAll(io.LimitReader(logf, 30000))
			t.Logf("%s log:\n%s", name, b)
		}
		logf.Close()
	})
	return p
}

// start runs the process and waits for its banner.
func (p *proc) start() {
	p.t.Helper()
	fmt.Fprintf(p.log, "--- start %v\n", time.Now().Format(time.StampMilli))
	cmd := exec.Command(p.bin, p.args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := bannerURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { exited <- cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	select {
	case p.url = <-urls:
	case err := <-exited:
		p.t.Fatalf("%s exited before serving: %v", p.name, err)
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s printed no banner within 30 s", p.name)
	}
}

// kill SIGKILLs the process and waits until it is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	fmt.Fprintf(p.log, "--- SIGKILL %v\n", time.Now().Format(time.StampMilli))
	cmd.Process.Kill()
	<-exited
}

// chaosViewer is one Go peer and what the test saw of it.
type chaosViewer struct {
	tp     *testPeer
	hybrid bool
	seen   map[string]bool
	newest uint64 // newest seq verified at its proxy
}

type chaosFault struct {
	component          string
	stallsHybrid       int
	stallsCDN          int
	recover            time.Duration // kill → every viewer has a segment published after the restart
	corruptBytes       int64
	verified           int // segments verified during the fault's observation
	badPiecesHybrid    int64
	hybridN, cdnN      int
	observed, downtime time.Duration
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestChaos kills the origin, an edge and the tracker in turn. Asserted per fault:
// the hybrid viewers stall no more than the CDN-only viewers under the same fault,
// every viewer recovers (a segment published after the fault reaches it) within
// chaosDown + 4 target durations of the kill, and every segment played verifies against
// its signed record (0 corrupt bytes). With the origin down 3 s the hybrid viewers
// must not stall at all (stale-if-error at the edges, the origin's continued numbering).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildShoal(t)
	dir := t.TempDir()
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	org := startProc(t, bin, "origin", "origin", "--demo", "--clock-sequence", "--listen", port(), "--key-file", filepath.Join(dir, "origin.key"))
	edgeArgs := strings.Fields(os.Getenv("CHAOS_EDGE_ARGS")) // e.g. --stale-if-error -1s, to see without it
	edgeA := startProc(t, bin, "edge-a", append([]string{"edge", "--origin", org.url, "--listen", port()}, edgeArgs...)...)
	edgeB := startProc(t, bin, "edge-b", append([]string{"edge", "--origin", org.url, "--listen", port()}, edgeArgs...)...)
	trk := startProc(t, bin, "tracker", "tracker", "--listen", port())
	trackerURL := "ws" + strings.TrimPrefix(trk.url, "http") + "/tracker"

	nHybrid, nCDN := envInt("CHAOS_HYBRID", 6), envInt("CHAOS_CDN", 4)
	observe := time.Duration(envInt("CHAOS_OBSERVE", 5)) * time.Second

	w := &world{t: t} // startPeer's
	var viewers []*chaosViewer
	for i := range nHybrid + nCDN {
		hybrid := i < nHybrid
		cfg := Config{Edge: edgeA.url, Edges: []string{edgeB.url}, Stream: "demo", ICEInterface: "lo", Logger: testLogger(t)}
		if hybrid {
			cfg.Tracker = trackerURL
		}
		viewers = append(viewers, &chaosViewer{tp: w.startPeer(cfg), hybrid: hybrid, seen: map[string]bool{}})
		time.Sleep(200 * time.Millisecond)
	}
	pub := chaosKey(t, edgeB.url)

	// One verifier per viewer checks, at its proxy, the segments played since it
	// started that were not checked yet, against records fetched from whichever edge
	// answers. They run beside the faults, so that a slow check (a loaded machine)
	// never stretches a component's downtime.
	var (
		mu       sync.Mutex
		corrupt  int64
		verified int
	)
	vctx, vstop := context.WithCancel(context.Background())
	var vwg sync.WaitGroup
	for _, v := range viewers {
		vwg.Go(func() {
			for vctx.Err() == nil {
				n, bad, newest := verifyProxy(t, v, pub, []string{edgeB.url, edgeA.url})
				mu.Lock()
				verified += n
				corrupt += bad
				v.newest = max(v.newest, newest)
				mu.Unlock()
				select {
				case <-vctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		})
	}
	defer func() { vstop(); vwg.Wait() }()
	counts := func() (int64, int) { mu.Lock(); defer mu.Unlock(); return corrupt, verified }
	waitStarted(t, viewers, 20*time.Second)
	time.Sleep(4 * time.Second)

	var faults []chaosFault
	for _, c := range []struct {
		name string
		p    *proc
	}{{"origin", org}, {"edge", edgeA}, {"tracker", trk}} {
		stalls := stallCounts(viewers)
		bad := badPieces(viewers)
		corrupt0, verified0 := counts()
		mu.Lock()
		mark := newestSeq(viewers)
		mu.Unlock()
		killed := time.Now()
		c.p.kill()
		time.Sleep(chaosDown)
		c.p.start()
		restarted := time.Now()
		// Recovered: every viewer holds a verified segment newer than anything any
		// viewer had at the kill (for the origin: of the new epoch); for the tracker,
		// every hybrid viewer also has a session again.
		var recovered time.Duration
		deadline := restarted.Add(observe)
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			beyond := allBeyond(viewers, mark)
			mu.Unlock()
			if recovered == 0 && beyond && (c.name != "tracker" || allInSwarm(viewers)) {
				recovered = time.Since(killed)
			}
		}
		corrupt1, verified1 := counts()
		f := chaosFault{component: c.name, recover: recovered, corruptBytes: corrupt1 - corrupt0,
			verified: verified1 - verified0, hybridN: nHybrid, cdnN: nCDN, observed: time.Since(killed), downtime: restarted.Sub(killed)}
		after := stallCounts(viewers)
		for i, v := range viewers {
			if v.hybrid {
				f.stallsHybrid += after[i] - stalls[i]
			} else {
				f.stallsCDN += after[i] - stalls[i]
			}
		}
		f.badPiecesHybrid = badPieces(viewers) - bad
		faults = append(faults, f)
		t.Logf("%s killed: down %.1f s, stalls hybrid %d / CDN-only %d, recovered in %.1f s, %d segments verified, %d corrupt bytes, %d bad pieces caught",
			c.name, f.downtime.Seconds(), f.stallsHybrid, f.stallsCDN, f.recover.Seconds(), f.verified, f.corruptBytes, f.badPiecesHybrid)
		if f.recover == 0 {
			t.Errorf("%s killed: not every viewer got a new segment within %v of the restart", c.name, observe)
		} else if limit := chaosDown + 8*time.Second; f.recover > limit {
			t.Errorf("%s killed: recovered in %v, want within %v", c.name, f.recover, limit)
		}
		if f.stallsHybrid*nCDN > f.stallsCDN*nHybrid {
			t.Errorf("%s killed: hybrid viewers stalled %d times (%d viewers), CDN-only %d (%d viewers)", c.name, f.stallsHybrid, nHybrid, f.stallsCDN, nCDN)
		}
		if f.corruptBytes != 0 {
			t.Errorf("%s killed: %d corrupt bytes played", c.name, f.corruptBytes)
		}
		if c.name == "origin" && f.stallsHybrid != 0 {
			t.Errorf("origin down %v: %d stalls of hybrid viewers, want 0 (stale-if-error, continued numbering)", chaosDown, f.stallsHybrid)
		}
	}
	if _, n := counts(); n == 0 {
		t.Fatal("no segment verified")
	}
	writeChaosTable(t, faults)
}

func waitStarted(t *testing.T, vs []*chaosViewer, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		all := true
		for _, v := range vs {
			all = all && v.tp.p.Stats().Player.Started
		}
		if all {
			return
		}
	}
	t.Fatalf("not every viewer started within %v", d)
}

func stallCounts(vs []*chaosViewer) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.tp.p.Stats().Player.Stalls
	}
	return out
}

func badPieces(vs []*chaosViewer) (n int64) {
	for _, v := range vs {
		if v.hybrid {
			n += v.tp.p.Stats().BadPieces
		}
	}
	return n
}

func newestSeq(vs []*chaosViewer) (n uint64) {
	for _, v := range vs {
		n = max(n, v.newest)
	}
	return n
}

// allInSwarm reports whether every hybrid viewer has a tracker session.
func allInSwarm(vs []*chaosViewer) bool {
	for _, v := range vs {
		if v.hybrid && v.tp.p.Stats().PeerID == "" {
			return false
		}
	}
	return true
}

func allBeyond(vs []*chaosViewer, seq uint64) bool {
	for _, v := range vs {
		if v.newest <= seq {
			return false
		}
	}
	return true
}

// chaosKey fetches the demo stream's public key from an edge.
func chaosKey(t *testing.T, edgeURL string) ed25519.PublicKey {
	t.Helper()
	pub, err := manifest.ParsePublicKey(get(t, edgeURL+"/live/demo/key"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// verifyProxy fetches the segments the viewer's proxy lists from its start on, not
// seen yet, and verifies each against its signed record from the first edge that
// has it. It returns the segments verified, the bytes of those that failed, and the
// newest seq verified. A segment the proxy no longer has (it slid out) is skipped.
func verifyProxy(t *testing.T, v *chaosViewer, pub ed25519.PublicKey, edges []string) (n int, bad int64, newest uint64) {
	t.Helper()
	st := v.tp.p.Stats()
	if !st.Player.Started {
		return 0, 0, 0
	}
	pl, code := tryGet(v.tp.proxy.URL + "/live/demo/index.m3u8")
	if code != http.StatusOK {
		return 0, 0, 0
	}
	for _, u := range segmentURIs(pl) {
		if v.seen[u] {
			continue
		}
		_, seq, ok := segmentSeq(strings.TrimPrefix(u, "index/"))
		if !ok {
			t.Errorf("proxy playlist lists %q", u)
			continue
		}
		if seq < st.Player.StartSeq {
			continue
		}
		data, code := tryGet(v.tp.proxy.URL + "/live/demo/" + u)
		if code != http.StatusOK {
			continue // not yet complete, or gone from the window
		}
		var rec []byte
		for _, e := range edges {
			if b, code := tryGet(e + "/live/demo/" + strings.TrimSuffix(u, ".ts") + ".rec"); code == http.StatusOK {
				rec = b
				break
			}
		}
		if rec == nil {
			continue // every edge down or the record gone: checked on the next pass
		}
		v.seen[u] = true
		n++
		r, err := manifest.Parse(rec, pub)
		if err == nil {
			err = r.Verify(data)
		}
		if err != nil {
			t.Errorf("segment %s at a viewer: %v", u, err)
			bad += int64(len(data))
			continue
		}
		newest = max(newest, seq)
	}
	return n, bad, newest
}

// tryGet is a GET that reports failure as a status (0: no answer) instead of failing.
func tryGet(url string) ([]byte, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0
	}
	return b, resp.StatusCode
}

// writeChaosTable writes the markdown table of docs/reliability.md to CHAOS_TABLE.
func writeChaosTable(t *testing.T, faults []chaosFault) {
	var b strings.Builder
	b.WriteString("| component killed | down | stalls hybrid | stalls CDN-only | seconds to recover | segments verified | corrupt bytes played | bad pieces caught |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range faults {
		fmt.Fprintf(&b, "| %s | %.1f s | %d (%d viewers) | %d (%d viewers) | %.1f | %d | %d | %d |\n", f.component, f.downtime.Seconds(),
			f.stallsHybrid, f.hybridN, f.stallsCDN, f.cdnN, f.recover.Seconds(), f.verified, f.corruptBytes, f.badPiecesHybrid)
	}
	t.Log("\n" + b.String())
	if p := os.Getenv("CHAOS_TABLE"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
