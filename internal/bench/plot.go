package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrPlotFormat is returned for a plot path that is neither .svg nor .png.
var ErrPlotFormat = fmt.Errorf("%w: plot file must end in .svg or .png", ErrConfig)

// CheckPlotPath validates a plot file name before a long run.
func CheckPlotPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".png":
		return nil
	}
	return ErrPlotFormat
}

var modeColors = map[string]color.Color{
	ModeCDNOnly: color.RGBA{R: 200, G: 60, B: 40, A: 255},
	ModeHybrid:  color.RGBA{R: 30, G: 100, B: 200, A: 255},
}

// WritePlot draws CDN egress over time for both runs (top) and the hybrid
// run's offload over time with the physical limit (bottom), as SVG or PNG.
func (r *Report) WritePlot(path string) error {
	if err := CheckPlotPath(path); err != nil {
		return err
	}
	egress := plot.New()
	egress.Title.Text = fmt.Sprintf("shoal bench: %s, %d peers, %s", r.Scenario, r.Peers, r.Transport)
	egress.X.Label.Text = "time (s)"
	egress.Y.Label.Text = "CDN egress (Mbit/s)"
	egress.Y.Min = 0
	egress.Add(plotter.NewGrid())
	offload := plot.New()
	offload.X.Label.Text = "time (s)"
	offload.Y.Label.Text = "offload (%)"
	offload.Y.Min, offload.Y.Max = 0, 100
	offload.Add(plotter.NewGrid())
	var xmax float64
	for _, mode := range []string{ModeCDNOnly, ModeHybrid} {
		rr := r.Runs[mode]
		if rr == nil || len(rr.Series) == 0 {
			continue
		}
		cdn := make(plotter.XYs, len(rr.Series))
		off := make(plotter.XYs, len(rr.Series))
		for i, s := range rr.Series {
			cdn[i] = plotter.XY{X: s.TS, Y: s.CDNMbps}
			off[i] = plotter.XY{X: s.TS, Y: 100 * s.Offload}
			xmax = max(xmax, s.TS)
		}
		name := strings.ReplaceAll(mode, "_", "-")
		l, err := plotter.NewLine(cdn)
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		l.Color = modeColors[mode]
		l.Width = vg.Points(1.2)
		egress.Add(l)
		egress.Legend.Add(name, l)
		if mode == ModeHybrid {
			lo, err := plotter.NewLine(off)
			if err != nil {
				return fmt.Errorf("bench: plot: %w", err)
			}
			lo.Color = modeColors[mode]
			lo.Width = vg.Points(1.2)
			offload.Add(lo)
			offload.Legend.Add("hybrid offload (per second)", lo)
		}
	}
	if r.OffloadLimit > 0 && xmax > 0 {
		lim, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 100 * r.OffloadLimit}, {X: xmax, Y: 100 * r.OffloadLimit}})
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		lim.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		lim.Color = color.Gray{Y: 90}
		offload.Add(lim)
		offload.Legend.Add("physical limit", lim)
	}
	egress.X.Min, offload.X.Min = 0, 0
	egress.X.Max, offload.X.Max = xmax, xmax
	egress.Legend.Top = true
	offload.Legend.Top = false
	offload.Legend.Left = false

	const w, h = 8 * vg.Inch, 7 * vg.Inch
	var canvas vg.CanvasWriterTo
	if strings.EqualFold(filepath.Ext(path), ".svg") {
		canvas = vgsvg.New(w, h)
	} else {
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter, PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	cs := plot.Align([][]*plot.Plot{{egress}, {offload}}, tiles, dc)
	egress.Draw(cs[0][0])
	offload.Draw(cs[1][0])
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: plot %s: %w", path, err)
	}
	return f.Close()
}
