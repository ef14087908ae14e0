package edge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoalescing sends 1,000 simultaneous cold requests for one object: the origin holds
// its answer until all 1,000 have reached the edge, so they all miss together. The origin
// must see exactly one request and every client the same body.
func TestCoalescing(t *testing.T) {
	const n = 1000
	seg := pattern(100_000, 3)
	tests := []struct {
		name, path string
		body       []byte
	}{
		{"segment", "/live/demo/index/mabc12-41.ts", seg},
		{"playlist", "/live/demo/index.m3u8", []byte(testPlaylist)},
		{"record", "/live/demo/index/mabc12-41.rec", pattern(512, 9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, map[string][]byte{tc.path: tc.body})
			// TTL 2 s: no refresh-ahead can add an origin request while the test runs.
			e, err := New(Config{Origin: o.srv.URL, PlaylistTTLFraction: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()

			var arrived atomic.Int32
			allIn := make(chan struct{})
			o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				select {
				case <-allIn:
				case <-time.After(20 * time.Second): // fail below rather than hang
				}
				return false
			})
			h := e.Handler()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == n {
					close(allIn)
				}
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
			defer client.CloseIdleConnections()

			start := make(chan struct{})
			bodies := make([][]byte, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					resp, err := client.Get(srv.URL + tc.path)
					if err != nil {
						errs[i] = err
						return
					}
					defer resp.Body.Close()
					bodies[i], errs[i] = io.ReadAll(resp.Body)
					if resp.StatusCode != http.StatusOK {
						errs[i] = &statusError{resp.StatusCode}
					}
				})
			}
			close(start)
			wg.Wait()

			if got := arrived.Load(); got != n {
				t.Fatalf("%d requests reached the edge, want %d", got, n)
			}
			if got := o.count(tc.path); got != 1 {
				t.Fatalf("origin saw %d requests, want exactly 1", got)
			}
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("request %d: %v", i, errs[i])
				}
				if !bytes.Equal(bodies[i], tc.body) {
					t.Fatalf("request %d: body of %d bytes differs from the origin's %d", i, len(bodies[i]), len(tc.body))
				}
			}
			if got, want := e.BytesServed("demo"), int64(n*len(tc.body)); got != want {
				t.Fatalf("BytesServed = %d, want %d", got, want)
			}
		})
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// TestLeaderCancelDoesNotFailFollowers: the request that started a fetch goes away; the
// others waiting on the same fetch still get the object, from one origin request.
func TestLeaderCancelDoesNotFailFollowers(t *testing.T) {
	const p = "/live/demo/index/mabc12-7.ts"
	body := pattern(10_000, 1)
	f := newFixture(t, Config{}, map[string][]byte{p: body})
	inOrigin := make(chan struct{}, 1)
	release := make(chan struct{})
	f.origin.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		inOrigin <- struct{}{}
		<-release
		return false
	})

	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+p, nil)
		resp, err := f.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		leaderDone <- err
	}()
	<-inOrigin // the leader's fetch is at the origin

	followerDone := make(chan []byte, 1)
	go func() {
		resp, err := f.srv.Client().Get(f.srv.URL + p)
		if err != nil {
			followerDone <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		followerDone <- b
	}()
	// The follower must have joined the flight before it ends; give it a moment and
	// check the origin was not asked twice.
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-leaderDone; err == nil {
		t.Fatal("leader request did not fail after cancellation")
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	if got := <-followerDone; !bytes.Equal(got, body) {
		t.Fatalf("follower got %d bytes, want the %d-byte object", len(got), len(body))
	}
	if got := f.origin.count(p); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
}
