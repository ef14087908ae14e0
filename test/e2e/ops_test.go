package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apiOffload returns the demo stream's offload from /api/streams.
func apiOffload(t *testing.T, base string) (float64, int) {
	t.Helper()
	body, code := get(t, base+"/api/streams?stream=demo")
	var st []struct {
		Peers   int     `json:"peers"`
		Offload float64 `json:"offload"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || len(st) != 1 {
		t.Fatalf("/api/streams: %d %s", code, body)
	}
	return st[0].Offload, st[0].Peers
}

// promQuery runs an instant PromQL query and returns the single value.
func promQuery(t *testing.T, prom, q string) (float64, bool) {
	t.Helper()
	body, code := get(t, prom+"/api/v1/query?query="+url.QueryEscape(q))
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" {
		t.Fatalf("query %s: %d %s", q, code, body)
	}
	if len(r.Data.Result) != 1 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPrometheusScrapesUp: a real Prometheus (Debian's 2.42) scrapes `shoal up --peers 4`
// for 30 s with the rules of deploy/prometheus; PromQL's offload of the demo stream is
// within 5 points of /api/streams.
func TestPrometheusScrapesUp(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("SHOAL_REQUIRE_PROMTOOL") != "" {
			t.Fatal("prometheus not installed (scripts/deps.sh)")
		}
		t.Skip("prometheus not installed (scripts/deps.sh); SKIPPED, not passed")
	}
	base := startShoal(t, "up", "--peers", "4")
	dir := t.TempDir()
	rules, _ := filepath.Abs("../../deploy/prometheus")
	cfg := fmt.Sprintf(`global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: [%q, %q]
scrape_configs:
  - job_name: shoal-up
    static_configs: [{targets: [%q]}]
`, filepath.Join(rules, "recording.yml"), filepath.Join(rules, "alerts.yml"), strings.TrimPrefix(base, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			logf.Seek(0, 0)
			b, _ := io.ReadAll(io.LimitReader(logf, 10000))
			t.Logf("prometheus log:\n%s", b)
		}
		logf.Close()
	})
	promURL := "http://" + addr
	time.Sleep(30 * time.Second)
	q := `sum(shoal_swarm_bytes_total{stream="demo",source="p2p"}) / sum(shoal_swarm_bytes_total{stream="demo",source=~"cdn|p2p"})`
	var got, want float64
	var ok bool
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, ok = promQuery(t, promURL, q)
		want, _ = apiOffload(t, base)
		if ok && math.Abs(got-want) <= 0.05 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if !ok || math.Abs(got-want) > 0.05 || want <= 0 {
		t.Fatalf("PromQL offload %.3f (found %v), /api/streams %.3f: want both > 0 and within 0.05", got, ok, want)
	}
	t.Logf("demo offload: PromQL %.3f, /api/streams %.3f", got, want)
	if v, ok := promQuery(t, promURL, `shoal:stream_offload:ratio_rate1m{stream="demo"}`); !ok {
		t.Fatal("recording rule shoal:stream_offload:ratio_rate1m has no value for demo")
	} else {
		t.Logf("shoal:stream_offload:ratio_rate1m{stream=demo} = %.3f", v)
	}
	if v, ok := promQuery(t, promURL, `up{job="shoal-up"}`); !ok || v != 1 {
		t.Fatalf("up{job=shoal-up} = %v (%v)", v, ok)
	}
}

// TestTrackerConfigAndPolicyRestart: `shoal tracker --config` takes its admin token and
// policy file from YAML; a policy set through the API is there after a restart.
func TestTrackerConfigAndPolicyRestart(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "shoal.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf("tracker:\n  admin-token: t0ken\n  policy-file: %s\n  max-neighbours: 8\n", filepath.Join(dir, "policies.json"))), 0o644)
	put := func(base, tok, body string) (int, string) {
		req, _ := http.NewRequest("PUT", base+"/api/streams/final/policy?create=1", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("first", func(t *testing.T) {
		base := startShoal(t, "tracker", "--config", conf)
		if code, body := put(base, "", `{"p2p_enabled":false}`); code != 401 {
			t.Fatalf("without token: %d %s", code, body)
		}
		if code, body := put(base, "t0ken", `{"p2p_enabled":false,"max_upload":4000000,"neighbours":9}`); code != 422 {
			t.Fatalf("neighbours above the configured 8: %d %s", code, body)
		}
		if code, body := put(base, "t0ken", `{"p2p_enabled":false,"max_upload":4000000,"neighbours":8}`); code != 200 {
			t.Fatalf("PUT: %d %s", code, body)
		}
	})
	t.Run("restarted", func(t *testing.T) {
		base := startShoal(t, "tracker", "--config", conf)
		body, code := get(t, base+"/api/streams/final/policy")
		if code != 200 || !strings.Contains(body, `"policy":{"p2p_enabled":false,"max_upload":4000000,"neighbours":8}`) {
			t.Fatalf("after restart: %d %s", code, body)
		}
	})
	out, err := exec.Command(shoalBin, "tracker", "--config", conf, "--print-config").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "admin-token: (set)") || !strings.Contains(string(out), `max-neighbours: "8"`) {
		t.Fatalf("--print-config: %v\n%s", err, out)
	}
	os.WriteFile(conf, []byte("tracker:\n  max-neighbors: 8\n"), 0o644)
	out, err = exec.Command(shoalBin, "tracker", "--config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "tracker.max-neighbors: unknown key") {
		t.Fatalf("typo in config: %v\n%s", err, out)
	}
}

// TestTakedownThroughUp: the admin API's takedown in `shoal up` ends the stream at the
// edge and the origin (410), and restoring it brings it back.
func TestTakedownThroughUp(t *testing.T) {
	base := startShoal(t, "up")
	waitPlaylist(t, base+"/live/demo/index.m3u8", 1)
	call := func(method string) int {
		req, _ := http.NewRequest(method, base+"/api/streams/demo/takedown?create=1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s takedown: %s %s", method, resp.Status, b)
		}
		return resp.StatusCode
	}
	call("POST")
	if body, code := get(t, base+"/live/demo/index.m3u8"); code != http.StatusGone || !strings.Contains(body, "taken down") {
		t.Fatalf("after takedown: %d %s", code, body)
	}
	call("DELETE")
	waitPlaylist(t, base+"/live/demo/index.m3u8", 1)
}
