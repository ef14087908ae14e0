//go:build !race

package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/webrtc"
)

// buildShoal builds the real binary once per test (the build cache makes the second
// one quick).
func buildShoal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shoal")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/shoal")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shoal: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port nobody listens on right now and that no earlier
// call returned: a test picks its NATS and HTTP ports before any process binds them,
// and the kernel may hand the same closed port out twice (a tracker's HTTP listen once
// failed on the port its own NATS server had just taken).
func freePort(t *testing.T) int {
	t.Helper()
	givenPorts.Lock()
	defer givenPorts.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !givenPorts.m[port] {
			givenPorts.m[port] = true
			return port
		}
	}
	t.Fatal("freePort: no unused loopback port in 100 tries")
	return 0
}

// givenPorts holds every port freePort returned in this test binary.
var givenPorts = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

// trackerProc is one `shoal tracker` process of a cluster.
type trackerProc struct {
	name   string
	port   int
	cmd    *exec.Cmd
	log    *os.File
	exited chan error
}

func (tp *trackerProc) wsURL() string   { return fmt.Sprintf("ws://127.0.0.1:%d/tracker", tp.port) }
func (tp *trackerProc) httpURL() string { return fmt.Sprintf("http://127.0.0.1:%d", tp.port) }

var trackerBanner = regexp.MustCompile(`shoal tracker on http://127\.0\.0\.1:(\d+)`)

// startTrackerProc runs `shoal tracker --node NAME ARGS...` on a fresh port and
// waits for its banner. The process gets SIGTERM at the end of the test and must
// exit cleanly (unless the test killed it).
func startTrackerProc(t *testing.T, bin, name string, args ...string) *trackerProc {
	t.Helper()
	tp, up := launchTrackerProc(t, bin, name, args...)
	tp.waitUp(t, up)
	return tp
}

// waitUp waits for the banner of a launched tracker.
func (tp *trackerProc) waitUp(t *testing.T, up <-chan struct{}) {
	t.Helper()
	select {
	case <-up:
	case err := <-tp.exited:
		tp.exited <- err
		t.Fatalf("tracker %s exited before serving: %v", tp.name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("tracker %s printed no banner within 30 s", tp.name)
	}
}

// launchTrackerProc starts a tracker as startTrackerProc does without waiting for
// its banner (nodes that need each other to start, like JetStream's quorum); up is
// closed when it serves.
func launchTrackerProc(t *testing.T, bin, name string, args ...string) (*trackerProc, <-chan struct{}) {
	t.Helper()
	port := freePort(t)
	args = append([]string{"tracker", "--node", name, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "info",
		// Every test peer comes from 127.0.0.1 (docs/abuse.md): lift the per-address limit.
		"--addr-limit-cidr", "127.0.0.0/8=0"}, args...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tp := &trackerProc{name: name, port: port, cmd: cmd, log: logf, exited: make(chan error, 1)}
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if trackerBanner.MatchString(sc.Text()) {
				once.Do(func() { close(up) })
			}
		}
	}()
	go func() { tp.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-tp.exited:
			tp.exited <- err
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-tp.exited:
				if err != nil {
					t.Errorf("tracker %s exited: %v", name, err)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-tp.exited
				t.Errorf("tracker %s did not stop within 10 s of SIGTERM", name)
			}
		}
		if t.Failed() || os.Getenv("PEER_TEST_LOG") != "" {
			logf.Seek(0, 0)
			b, _ := io.ReadAll(io.LimitReader(logf, 30000))
			t.Logf("tracker %s log:\n%s", name, b)
		}
		logf.Close()
	})
	return tp, up
}

// kill sends SIGKILL and waits for the process to go.
func (tp *trackerProc) kill(t *testing.T) {
	t.Helper()
	tp.cmd.Process.Kill()
	err := <-tp.exited
	tp.exited <- err
}

// stop sends SIGTERM and waits (up to 10 s) for a clean exit.
func (tp *trackerProc) stop() error {
	tp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-tp.exited:
		tp.exited <- err
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("tracker %s did not stop within 10 s of SIGTERM", tp.name)
	}
}

// alive reports whether the process is still running (no panic, no exit).
func (tp *trackerProc) alive() bool {
	select {
	case err := <-tp.exited:
		tp.exited <- err
		return false
	default:
		return true
	}
}

// metric returns the value of a counter or gauge without labels from /metrics.
func (tp *trackerProc) metric(name string) float64 {
	resp, err := http.Get(tp.httpURL() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// linkBytes counts what each peer received on each link, by (receiver index, sender
// tracker id), through a transport wrapper: the test's view of who moved bytes to whom.
type linkBytes struct {
	mu  sync.Mutex
	ids map[string]int    // tracker id → peer index (every session's id)
	got map[[2]string]int // (receiver id, sender id) → bytes
}

func newLinkBytes() *linkBytes {
	return &linkBytes{ids: make(map[string]int), got: make(map[[2]string]int)}
}

// dialer returns Config.NewDialer for peer i: the real WebRTC transport, counted.
func (lb *linkBytes) dialer(i int) NewDialerFunc {
	return func(id string, signal transport.SignalFunc) (transport.Dialer, error) {
		lb.mu.Lock()
		lb.ids[id] = i
		lb.mu.Unlock()
		d, err := webrtc.New(webrtc.Config{ID: id, Signal: signal, ICEInterface: "lo"})
		if err != nil {
			return nil, err
		}
		return &countedDialer{Dialer: d, me: id, lb: lb}, nil
	}
}

func (lb *linkBytes) add(me, from string, n int) {
	lb.mu.Lock()
	lb.got[[2]string{me, from}] += n
	lb.mu.Unlock()
}

// pairs returns every (receiver, sender) peer-index pair with bytes moved.
func (lb *linkBytes) pairs() map[[2]int]int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make(map[[2]int]int)
	for k, n := range lb.got {
		a, ok1 := lb.ids[k[0]]
		b, ok2 := lb.ids[k[1]]
		if ok1 && ok2 {
			out[[2]int{a, b}] += n
		}
	}
	return out
}

type countedDialer struct {
	transport.Dialer
	me string
	lb *linkBytes
}

func (d *countedDialer) Dial(ctx context.Context, remote string) (transport.Link, error) {
	l, err := d.Dialer.Dial(ctx, remote)
	if err != nil {
		return nil, err
	}
	return &countedLink{Link: l, me: d.me, lb: d.lb}, nil
}

func (d *countedDialer) Accept(ctx context.Context) (transport.Link, error) {
	l, err := d.Dialer.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &countedLink{Link: l, me: d.me, lb: d.lb}, nil
}

type countedLink struct {
	transport.Link
	me string
	lb *linkBytes
}

func (l *countedLink) Recv(ctx context.Context) ([]byte, error) {
	b, err := l.Link.Recv(ctx)
	if err == nil {
		l.lb.add(l.me, l.RemoteID(), len(b))
	}
	return b, err
}

// clusterStreams reads /api/streams of one tracker node: the peers of demo/index.
func clusterPeers(tp *trackerProc) int {
	resp, err := http.Get(tp.httpURL() + "/api/streams?stream=demo")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var streams []struct {
		Rendition string `json:"rendition"`
		Peers     int    `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&streams); err != nil {
		return -1
	}
	for _, s := range streams {
		if s.Rendition == "index" {
			return s.Peers
		}
	}
	return 0
}
