package prometheus

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestDashboardQueries: dashboard-queries.yml holds exactly the dashboard's queries,
// in order, so that promtool checks each one.
func TestDashboardQueries(t *testing.T) {
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			want = append(want, tg.Expr)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Record, Expr string }
		}
	}
	b, err = os.ReadFile("dashboard-queries.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Expr)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dashboard-queries.yml is out of step with grafana-dashboard.json:\n got  %q\n want %q", got, want)
	}
}

// TestPromtool runs Debian's promtool (scripts/deps.sh installs it; the suite sets
// SHOAL_REQUIRE_PROMTOOL=1 so that a missing one fails rather than skips).
func TestPromtool(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("SHOAL_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool not installed (apt-get install prometheus)")
		}
		t.Skip("promtool not installed (apt-get install prometheus); SKIPPED, not passed")
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "recording.yml", "alerts.yml", "dashboard-queries.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		out, err := exec.Command("promtool", args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

var metricRE = regexp.MustCompile(`\bshoal_[a-z0-9_]+`)

// TestMetricsDocumented: every metric the code defines, and every one the rules and
// the dashboard use, has its row in docs/metrics.md.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `shoal_") {
			documented[metricRE.FindString(line)] = true
		}
	}
	used := map[string]string{}
	filepath.WalkDir("../../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, m := range regexp.MustCompile(`"(shoal_[a-z0-9_]+)"`).FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = path
		}
		return nil
	})
	for _, f := range []string{"alerts.yml", "dashboard-queries.yml"} {
		b, _ := os.ReadFile(f)
		for _, m := range metricRE.FindAllString(string(b), -1) {
			if !strings.HasPrefix(m, "shoal_dashboard") {
				used[m] = f
			}
		}
	}
	if len(used) < 20 {
		t.Fatalf("found only %d metric names: the scan is broken", len(used))
	}
	for m, where := range used {
		if !documented[m] {
			t.Errorf("%s (%s) is not documented in docs/metrics.md", m, where)
		}
	}
}
