package origin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperOrigin is not a test: it is the origin process TestKilledMidIngest kills.
func TestHelperOrigin(t *testing.T) {
	store := os.Getenv("SHOAL_TEST_ORIGIN_STORE")
	if store == "" {
		t.Skip("helper process only")
	}
	o, err := New(Config{StoreDir: store, Key: fixedKey(), QuietTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(os.Getenv("SHOAL_TEST_ORIGIN_ADDR"), []byte(ln.Addr().String())); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // never outlives the test
	defer cancel()
	go func() { _ = o.Run(ctx) }()
	srv := &http.Server{Handler: o.Handler()}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	_ = srv.Serve(ln)
}

// originProcess starts the helper origin on store and returns its base URL.
func originProcess(t *testing.T, store string) (*exec.Cmd, string) {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOrigin$")
	cmd.Env = append(os.Environ(), "SHOAL_TEST_ORIGIN_STORE="+store, "SHOAL_TEST_ORIGIN_ADDR="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var b []byte
	waitFor(t, 20*time.Second, "the helper origin", func() bool {
		var err error
		b, err = os.ReadFile(addr)
		return err == nil && len(b) > 0
	})
	return cmd, "http://" + string(b)
}

// TestKilledMidIngest SIGKILLs an origin while a title is being published, at random
// moments, and restarts it on the same store: the title published before is served
// byte-identical, the interrupted one is either absent or whole (every segment
// verifying against its record), and nothing staged is left behind.
func TestKilledMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	store := t.TempDir()
	cmd, base := originProcess(t, store)
	pushVOD(t, base, "first", 3)
	first := snapshot(t, base, "first", "index")
	rng := rand.New(rand.NewPCG(1, 2))
	const segs = 24
	whole, absent := 0, 0
	for round := range 5 {
		name := fmt.Sprintf("t%d", round)
		for i := range segs {
			mustPut(t, base+fmt.Sprintf("/ingest/%s/index%d.ts", name, i), sample(t, i%8))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequest(http.MethodPut, base+"/ingest/"+name+"/index.m3u8", strings.NewReader(string(vodPlaylist(segs, true))))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond) // publishing, committing, or settled
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		<-done

		cmd, base = originProcess(t, store)
		sameSnapshot(t, first, snapshot(t, base, "first", "index"))
		if r := get(t, base+"/live/"+name+"/index.m3u8"); r.code == http.StatusOK {
			if n := len(mediaPlaylist(t, base+"/live/"+name+"/index.m3u8").Segments); n != segs {
				t.Fatalf("round %d: title with %d of %d segments", round, n, segs)
			}
			checkSegments(t, base, name, "index")
			whole++
		} else {
			absent++
		}
		if ents, _ := os.ReadDir(filepath.Join(store, storeStaging)); len(ents) != 0 {
			t.Fatalf("round %d: staging left behind: %v", round, ents)
		}
	}
	t.Logf("after a SIGKILL: %d titles whole, %d absent", whole, absent)
}
