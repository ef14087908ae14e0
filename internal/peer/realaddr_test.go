//go:build !race

package peer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// boundClient is an HTTP client whose connections leave from local address ip:
// the tracker sees ip as the peer's address in the kernel's socket, with no
// X-Forwarded-For to believe.
func boundClient(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestBansBetweenRealAddresses: every peer talks to the tracker from its own
// address (127.0.0.10+i: all of 127/8 is on lo, so this needs neither root nor a
// namespace), and the tracker believes no X-Forwarded-For. A peer corrupting every
// piece it uploads is banned once two honest neighbours report it; a lone liar
// (one address, reconnecting under new ids) that keeps reporting an honest peer
// never gets it banned; no honest peer stalls.
func TestBansBetweenRealAddresses(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.10:0"); err != nil {
		t.Skipf("cannot bind 127.0.0.10 (loopback has no 127/8 here): %v", err)
	} else {
		ln.Close()
	}
	w := newWorld(t, tracker.Config{})
	w.stopTracker()
	w.trCfg.TrustProxy = false // addresses from the sockets only
	w.startTracker()
	lone := loneLiar(t, w, 16*time.Second)
	r := runSwarm(t, w, 4, 16*time.Second, func(i int, c *Config) {
		c.TrackerHeader = nil
		c.Client = boundClient(fmt.Sprintf("127.0.0.%d", 10+i))
		if i == 0 {
			c.tamper = func(_ wire.SegmentID, _ int, b []byte) []byte {
				b[len(b)/2] ^= 0x5a
				return b
			}
		}
	})
	logRun(t, "real addresses", r)
	liar := r.stats[0]
	if liar.BytesUp == 0 {
		t.Fatal("the corrupting peer uploaded nothing: the test proves nothing")
	}
	if liar.PeerID != "" {
		t.Errorf("the corrupting peer still has a tracker session (%s): not banned", liar.PeerID)
	}
	var detected int64
	for i, st := range r.stats[1:] {
		detected += st.BadPieces
		if st.Player.Stalls != 0 {
			t.Errorf("honest peer %d: %d stalls", i+1, st.Player.Stalls)
		}
		if st.PeerID == "" {
			t.Errorf("honest peer %d lost its tracker session (banned?)", i+1)
		}
	}
	if detected == 0 {
		t.Error("no bad piece detected")
	}
	reports := <-lone
	if reports < 20 {
		t.Fatalf("the lone liar sent %d reports: the test proves nothing", reports)
	}
	t.Logf("lone liar: %d reports against the honest peers under 3 ids; none banned (sessions checked above)", reports)
}

// loneLiar joins first from 127.0.0.99, before any peer. The first peer the
// tracker introduces is the corrupting one (it joins first): the liar leaves it
// alone, so its ban owes nothing to the liar, and accuses every later one, 10
// reports each; then it reconnects twice under new ids and accuses its new
// neighbours again. It returns the number of reports sent.
func loneLiar(t *testing.T, w *world, d time.Duration) <-chan int {
	out := make(chan int, 1)
	dial := func() *signalling.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := signalling.Dialer{HTTPClient: boundClient("127.0.0.99")}
		c, err := d.Dial(ctx, w.trackerURL(),
			signalling.Join{Stream: "demo", Rendition: "index", UploadCapacity: 1e6})
		if err != nil {
			t.Errorf("lone liar: %v", err)
			return nil
		}
		return c
	}
	c := dial()
	go func() {
		reports, first := 0, ""
		accuse := func(c *signalling.Client, id string) {
			if id == first {
				return
			}
			for piece := range 10 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if c.Send(ctx, &signalling.Report{Peer: id, Segment: "e-1", Piece: piece, Reason: "hash_mismatch"}) == nil {
					reports++
				}
				cancel()
			}
		}
		defer func() { out <- reports }()
		if c == nil {
			return
		}
		end := time.Now().Add(d / 2)
		for time.Now().Before(end) {
			ctx, cancel := context.WithDeadline(context.Background(), end)
			m, err := c.Recv(ctx)
			cancel()
			if err != nil {
				break
			}
			if n, ok := m.(*signalling.Neighbours); ok {
				for _, a := range n.Add {
					if first == "" {
						first = a.PeerID
						continue
					}
					accuse(c, a.PeerID)
				}
			}
		}
		c.Close()
		for range 2 {
			if c = dial(); c == nil {
				return
			}
			for _, n := range c.Welcome().Neighbours {
				accuse(c, n.PeerID)
			}
			time.Sleep(300 * time.Millisecond)
			c.Close()
		}
	}()
	return out
}

// TestWithholdingSeeder: a peer declares 10¹² bit/s to the tracker, so it is made a
// seeder, but uploads nothing. The tracker takes its stripe after SeedGrace (6 s of
// no shown upload) and gives it to an honest peer; no honest peer stalls meanwhile
// (its pieces come from the edge at the deadline until then).
func TestWithholdingSeeder(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, tracker.Config{Registerer: reg})
	demoted := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "shoal_tracker_seeders_demoted_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	var joined atomic.Int64 // unix nanos: set by the test goroutine, read by the poller
	var after time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if j := joined.Load(); j != 0 && after == 0 && demoted() > 0 {
				after = time.Since(time.Unix(0, j))
			}
		}
	}()
	r := runSwarm(t, w, 5, 12*time.Second, func(i int, c *Config) {
		if i == 0 {
			c.MaxUpload, c.declare = -1, 1e12
			joined.Store(time.Now().UnixNano())
		}
	})
	close(stop)
	<-done
	logRun(t, "withholding seeder", r)
	if n := demoted(); n != 1 {
		t.Fatalf("%v seeders demoted, want the withholder alone", n)
	}
	if r.stats[0].BytesUp != 0 {
		t.Fatalf("the withholder uploaded %d bytes: the test proves nothing", r.stats[0].BytesUp)
	}
	for i, st := range r.stats[1:] {
		if st.Player.Stalls != 0 {
			t.Errorf("honest peer %d: %d stalls", i+1, st.Player.Stalls)
		}
	}
	if after == 0 || after > 10*time.Second {
		t.Fatalf("stripe taken %v after the withholder joined, want within SeedGrace + a stats report + slack", after)
	}
	t.Logf("withholder's stripe taken %v after it joined", after.Round(100*time.Millisecond))
}
