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
	flag.StringVar(&cl.node, "node", "", "cluster mode: this loadgen's tracker node (signals carry it, to tell same-node from cross-node relays)")
	flag.IntVar(&cl.swarms, "swarms", 1, "shoal: spread the peers over this many swarms (renditions r0…)")
	flag.IntVar(&cl.offset, "offset", 0, "index of this loadgen's first peer (distinct capacities across loadgens)")
	signals := flag.Int("signals", 0, "after the hold, this many peers each send one signal to a neighbour (relay latency)")
	watch := flag.Duration("watch", 0, "then keep reading this long, recording stripe messages (reassignment after a node is killed)")
	ready := flag.String("ready", "", "create this file when the watch starts")
	until := flag.String("until", "", "watch until this file exists (bounded by -timeout), then -watch more")
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
				ws, err := join(ctx, client, *url, *proto, cl.offset+i)
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
	if *signals > 0 {
		sendSignals(ctx, conns, *signals)
		time.Sleep(2 * time.Second) // the relays land in the drains
	}
	if *watch > 0 {
		// Only the stripe messages of the watch count: the joins' re-rankings would
		// otherwise fill each swarm's 64 slots before the kill.
		cl.mu.Lock()
		clear(cl.stripes)
		cl.mu.Unlock()
		if *ready != "" {
			os.WriteFile(*ready, nil, 0o644)
		}
		for *until != "" && ctx.Err() == nil {
			if _, err := os.Stat(*until); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		select {
		case <-time.After(*watch):
		case <-ctx.Done():
		}
	}
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
	if cl.node != "" {
		cl.mu.Lock()
		res["node"] = cl.node
		res["lat_same_ms"] = cl.same
		res["lat_cross_ms"] = cl.cross
		res["stripes"] = cl.stripes
		cl.mu.Unlock()
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
		msg = []byte(fmt.Sprintf(`{"type":"join","stream":"bench","rendition":"%s","upload_capacity":%d}`,
			cl.rendition(i), []int{1e6, 5e6, 20e6}[i%3]))
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
			cl.welcomed(ws, cl.rendition(i), b)
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
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if cl.node != "" {
			cl.received(ws, b)
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

// Cluster mode (bench/tracker/run.sh with CLUSTER=N): the load of one tracker node.

// clusterState is what one loadgen records in cluster mode.
type clusterState struct {
	node        string
	swarms      int
	offset      int
	mu          sync.Mutex
	first       map[*websocket.Conn]string // a held peer → its first neighbour from the welcome
	rend        map[*websocket.Conn]string // a held peer → its swarm's rendition
	same, cross []float64                  // relay latencies, ms
	stripes     map[string][]int64         // rendition → unix nanos of stripe messages (at most 64 each)
}

var cl = clusterState{first: map[*websocket.Conn]string{}, rend: map[*websocket.Conn]string{}, stripes: map[string][]int64{}}

func (c *clusterState) rendition(i int) string {
	if c.swarms <= 1 {
		return "index"
	}
	return "r" + strconv.Itoa(i%c.swarms)
}

func (c *clusterState) welcomed(ws *websocket.Conn, rend string, b []byte) {
	var w struct {
		Neighbours []struct {
			PeerID string `json:"peer_id"`
		} `json:"neighbours"`
	}
	json.Unmarshal(b, &w)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rend[ws] = rend
	if len(w.Neighbours) > 0 {
		c.first[ws] = w.Neighbours[0].PeerID
	}
}

// received notes relayed signals (latency, same node or not) and stripe messages.
func (c *clusterState) received(ws *websocket.Conn, b []byte) {
	s := string(b)
	now := time.Now().UnixNano()
	switch {
	case strings.HasPrefix(s, `{"type":"signal"`):
		var m struct {
			Data struct {
				SDP string `json:"sdp"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		var node string
		var sent int64
		if _, err := fmt.Sscanf(m.Data.SDP, "v=0 node=%s t=%d", &node, &sent); err != nil {
			return
		}
		ms := float64(now-sent) / 1e6
		c.mu.Lock()
		if node == c.node {
			c.same = append(c.same, ms)
		} else {
			c.cross = append(c.cross, ms)
		}
		c.mu.Unlock()
	case strings.HasPrefix(s, `{"type":"stripe"`):
		c.mu.Lock()
		r := c.rend[ws]
		if len(c.stripes[r]) < 64 {
			c.stripes[r] = append(c.stripes[r], now)
		}
		c.mu.Unlock()
	}
}

// sendSignals has k held peers each send one offer to their first neighbour, spread
// over a second, stamped with this node and the send time.
func sendSignals(ctx context.Context, conns []*websocket.Conn, k int) {
	cl.mu.Lock()
	type job struct {
		ws *websocket.Conn
		to string
	}
	var jobs []job
	for _, ws := range conns {
		if to, ok := cl.first[ws]; ok && ws != nil && len(jobs) < k {
			jobs = append(jobs, job{ws, to})
		}
	}
	cl.mu.Unlock()
	gap := time.Second / time.Duration(max(len(jobs), 1))
	for _, j := range jobs {
		sdp := fmt.Sprintf("v=0 node=%s t=%d", cl.node, time.Now().UnixNano())
		msg, _ := json.Marshal(map[string]any{"type": "signal", "to": j.to, "data": map[string]string{"type": "offer", "sdp": sdp}})
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		j.ws.Write(wctx, websocket.MessageText, msg)
		cancel()
		time.Sleep(gap)
	}
}
