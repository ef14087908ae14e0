// Command plot draws scripts/soak.sh's samples: RSS, Go heap in use, goroutines, open fds, edge cache
// and offload against time, one panel each, stacked in one PNG or SVG.
//
//	go run ./bench/soak/plot samples.csv soak.png
package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// panels are the CSV columns drawn, with their axis labels and scale.
var panels = []struct {
	col, label string
	scale      float64
}{
	{"rss_bytes", "RSS (MiB)", 1.0 / (1 << 20)},
	{"heap_inuse_bytes", "Go heap in use (MiB)", 1.0 / (1 << 20)},
	{"goroutines", "goroutines", 1},
	{"open_fds", "open fds", 1},
	{"cache_bytes", "edge cache (MiB)", 1.0 / (1 << 20)},
	{"offload", "offload (%)", 100},
	{"peers", "peers in the swarm", 1},
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: plot SAMPLES.csv OUT.png|OUT.svg")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	if len(rows) < 2 {
		return fmt.Errorf("%s: no samples", in)
	}
	idx := map[string]int{}
	for i, h := range rows[0] {
		idx[h] = i
	}
	t, ok := idx["elapsed_s"]
	if !ok {
		return fmt.Errorf("%s: no elapsed_s column", in)
	}
	var plots []*plot.Plot
	for _, p := range panels {
		c, ok := idx[p.col]
		if !ok {
			continue
		}
		xy := make(plotter.XYs, 0, len(rows)-1)
		for _, r := range rows[1:] {
			x, err1 := strconv.ParseFloat(r[t], 64)
			y, err2 := strconv.ParseFloat(r[c], 64)
			if err1 != nil || err2 != nil {
				continue // a sample the script could not take (a server restarting)
			}
			xy = append(xy, plotter.XY{X: x, Y: y * p.scale})
		}
		pl := plot.New()
		pl.X.Label.Text = "time (s)"
		pl.Y.Label.Text = p.label
		pl.Y.Min = 0
		pl.Add(plotter.NewGrid())
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Width = vg.Points(1.2)
		pl.Add(l)
		plots = append(plots, pl)
	}
	plots[0].Title.Text = "shoal soak: " + filepath.Base(in)
	w, h := 8*vg.Inch, vg.Length(len(plots))*2*vg.Inch
	var canvas vg.CanvasWriterTo
	switch strings.ToLower(filepath.Ext(out)) {
	case ".png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	case ".svg":
		canvas = vgsvg.New(w, h)
	default:
		return fmt.Errorf("%s: want .png or .svg", out)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(6)}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	for i, row := range plot.Align(grid, tiles, dc) {
		grid[i][0].Draw(row[0])
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(o); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
