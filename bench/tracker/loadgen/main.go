// Command loadgen opens N WebSocket peers against a tracker on loopback, each joining
// one swarm, and reports joins per second and the server's resident memory per held
// connection. It speaks shoal's protocol (docs/tracker.md) or bittorrent-tracker's
// WebTorrent announce, so both servers get the same load from the same client.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

func main() {
	url := flag.String("url", "", "ws://127.0.0.1:PORT/tracker (shoal) or ws://127.0.0.1:PORT (bt)")
	proto := flag.String("proto", "shoal", "shoal or bt")
	n := flag.Int("n", 5000, "peers to hold")
	conc := flag.Int("c", 32, "concurrent joins in flight")
	pid := flag.Int("pid", 0, "server pid, for its RSS")
	hold := flag.Duration("hold", 3*time.Second, "hold all peers this long before measuring memory")
	limit := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	name := flag.String("name", "", "label for the result line")
	flag.Parse()
	if *url == "" || *pid == 0 || (*proto != "shoal" && *proto != "bt") {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()

	client := &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableKeepAlives: true,
	}}
	before := rss(*pid)
	conns := make([]*websocket.Conn, *n)
	var failed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n || ctx.Err() != nil {
					return
				}
				ws, err := join(ctx, client, *url, *proto, i)
				if err != nil {
					if failed.Add(1) <= 3 {
						fmt.Fprintf(os.Stderr, "loadgen: peer %d: %v\n", i, err)
					}
					continue
				}
				conns[i] = ws
				go drain(ctx, ws)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	held := int64(*n) - failed.Load()
	select {
	case <-time.After(*hold):
	case <-ctx.Done():
	}
	after := rss(*pid)
	perConn := float64(after-before) / float64(max(held, 1))
	if before == 0 || perConn <= 0 {
		fmt.Fprintf(os.Stderr, "loadgen: no usable RSS for pid %d (before %d, after %d)\n", *pid, before, after)
		os.Exit(1)
	}
	res := map[string]any{
		"name": *name, "proto": *proto, "peers": held, "failed": failed.Load(),
		"join_seconds":   elapsed.Seconds(),
		"joins_per_s":    float64(held) / elapsed.Seconds(),
		"rss_before":     before,
		"rss_after":      after,
		"bytes_per_conn": perConn,
		"conns_per_gib":  float64(1<<30) / perConn,
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	for _, ws := range conns {
		if ws != nil {
			ws.CloseNow()
		}
	}
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// join opens one peer and waits for the tracker's answer to its join/announce.
func join(ctx context.Context, client *http.Client, url, proto string, i int) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	var msg []byte
	switch proto {
	case "shoal":
		msg = []byte(fmt.Sprintf(`{"type":"join","stream":"bench","rendition":"index","upload_capacity":%d}`,
			[]int{1e6, 5e6, 20e6}[i%3]))
	case "bt":
		// Five offers, as a WebTorrent client sends, so the tracker forwards each to a
		// peer: the same fan-out as shoal introducing up to five neighbours.
		offers := make([]map[string]any, 5)
		for k := range offers {
			offers[k] = map[string]any{
				"offer":    map[string]string{"type": "offer", "sdp": "v=0 o=- " + strconv.Itoa(i) + " 2 IN IP4 127.0.0.1"},
				"offer_id": id20(),
			}
		}
		msg, _ = json.Marshal(map[string]any{
			"action": "announce", "info_hash": "bench-info-hash-0001", "peer_id": id20(),
			"event": "started", "numwant": 5, "uploaded": 0, "downloaded": 0, "left": 0, "offers": offers,
		})
	}
	if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
		ws.CloseNow()
		return nil, err
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, err
		}
		s := string(b)
		switch {
		case proto == "shoal" && strings.HasPrefix(s, `{"type":"welcome"`):
			return ws, nil
		case proto == "bt" && strings.Contains(s, `"interval"`):
			return ws, nil
		case strings.Contains(s, "failure reason") || strings.HasPrefix(s, `{"type":"error"`):
			ws.CloseNow()
			return nil, fmt.Errorf("refused: %s", s)
		}
	}
}

// drain keeps a held peer reading (forwarded offers, neighbour updates, pings).
func drain(ctx context.Context, ws *websocket.Conn) {
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
	}
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func id20() string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// rss returns a process's resident set size in bytes (Linux /proc).
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
