// Command measure runs a `shoal peer` process and a plain HTTP client side by
// side on the same live stream for a while, then prints each one's CPU use (as
// a percentage of one core, from the kernel's rusage of the exited child) and
// memory (peak RSS from rusage, and the RSS just before it was stopped).
//
//	measure -shoal ./shoal -edge http://127.0.0.1:18580 -stream bench -duration 60s
//
// Run through bench/peer/run.sh, which also publishes the stream and starts the
// other peers the measured one relays to.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	shoal := flag.String("shoal", "shoal", "shoal binary")
	edge := flag.String("edge", "http://127.0.0.1:18580", "edge base URL")
	stream := flag.String("stream", "bench", "stream")
	dur := flag.Duration("duration", 60*time.Second, "how long both run")
	listen := flag.String("listen", "127.0.0.1:18590", "the measured peer's proxy address")
	fetch := flag.Bool("fetch", false, "internal: be the plain HTTP client")
	flag.Parse()
	if *fetch {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		plainClient(ctx, *edge, *stream)
		return
	}
	self, _ := os.Executable()
	peer := exec.Command(*shoal, "peer", "--edge", *edge, "--stream", *stream, "--listen", *listen,
		"--ice-interface", "lo", "--log-level", "warn")
	peer.Stderr = os.Stderr
	client := exec.Command(self, "-fetch", "-edge", *edge, "-stream", *stream)
	client.Stderr = os.Stderr
	for _, c := range []*exec.Cmd{peer, client} {
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	start := time.Now()
	time.Sleep(*dur)
	rssPeer, rssClient := rss(peer.Process.Pid), rss(client.Process.Pid)
	stats := peerStats("http://" + *listen + "/stats")
	wall := time.Since(start)
	for _, c := range []*exec.Cmd{peer, client} {
		c.Process.Signal(os.Interrupt)
	}
	for _, c := range []*exec.Cmd{peer, client} {
		c.Wait()
	}
	fmt.Printf("%-22s %10s %12s %12s\n", "process", "CPU % core", "peak RSS MB", "RSS MB")
	for _, r := range []struct {
		name string
		c    *exec.Cmd
		rss  float64
	}{{"shoal peer (P2P)", peer, rssPeer}, {"plain HTTP client", client, rssClient}} {
		ru := r.c.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("%-22s %10.2f %12.1f %12.1f\n", r.name, 100*cpu.Seconds()/wall.Seconds(), float64(ru.Maxrss)/1024, r.rss)
	}
	fmt.Printf("measured peer: %s\n", stats)
}

// plainClient follows the live playlist and downloads every new segment, as a
// player without P2P would.
func plainClient(ctx context.Context, edge, stream string) {
	base := edge + "/live/" + stream + "/"
	seen := map[string]bool{}
	for ctx.Err() == nil {
		pl, err := get(ctx, base+"index.m3u8")
		if err == nil {
			for _, l := range strings.Split(string(pl), "\n") {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") || seen[l] {
					continue
				}
				seen[l] = true
				get(ctx, base+l)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// rss is the resident set of pid in MB (VmRSS), 0 if unknown.
func rss(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func peerStats(u string) string {
	b, err := get(context.Background(), u)
	if err != nil {
		return err.Error()
	}
	var st struct {
		CDN   int64   `json:"bytes_cdn"`
		P2P   int64   `json:"bytes_p2p"`
		Up    int64   `json:"bytes_up"`
		Nb    int     `json:"neighbours"`
		Off   float64 `json:"offload"`
		Bad   int64   `json:"bad_pieces"`
		Stall struct {
			Stalls int
			Played int
		} `json:"player"`
	}
	if json.Unmarshal(b, &st) != nil {
		return string(b)
	}
	return fmt.Sprintf("cdn %.1f MB, p2p %.1f MB, uploaded %.1f MB, %d neighbours, offload %.0f%%, %d segments played, %d stalls",
		float64(st.CDN)/1e6, float64(st.P2P)/1e6, float64(st.Up)/1e6, st.Nb, 100*st.Off, st.Stall.Played, st.Stall.Stalls)
}
