package bench

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ReportFile is the name of the HTML page WriteReportDir writes.
const ReportFile = "index.html"

// WriteReportDir writes the report as one self-contained HTML page (inline CSS and SVG, no
// script, nothing fetched) to dir/index.html, creating dir, and returns the page's path.
func WriteReportDir(dir string, rep Report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report directory: %w", err)
	}
	path := filepath.Join(dir, ReportFile)
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	if err := WriteHTML(f, rep); err != nil {
		f.Close()
		return "", fmt.Errorf("report %s: %w", path, err)
	}
	return path, f.Close()
}

type htmlSuite struct {
	Name    string
	Results []htmlRow
	Notes   []string      // each scenario's note once, then the pool's epoch estimates per count
	Derived template.HTML // the prover's per-epoch table, derived from its figures
	Plots   []template.HTML
}

type htmlRow struct {
	Result
	MedianS, RangeS, P99S, PeerS, RatioS, SpeedS string
}

// WriteHTML writes the page: the machine, then one section per suite in the report with its
// table and plots (time per operation with run spread; zkv against its peer; latency
// min/median/p99; throughput against batch size for a series; speed-up against cores when the
// report has several GOMAXPROCS).
func WriteHTML(w io.Writer, rep Report) error {
	var suites []*htmlSuite
	bySuite := map[string]*htmlSuite{}
	speed := rep.Speedups()
	for _, r := range rep.Results {
		s := bySuite[r.Suite]
		if s == nil {
			s = &htmlSuite{Name: r.Suite}
			bySuite[r.Suite] = s
			suites = append(suites, s)
		}
		row := htmlRow{Result: r, MedianS: dur(r.Median), RangeS: dur(r.Min) + " .. " + dur(r.Max), P99S: "-", PeerS: "-", RatioS: "-", SpeedS: "-"}
		if r.P99 > 0 {
			row.P99S = dur(r.P99)
		}
		if r.Peer != nil {
			row.PeerS, row.RatioS = dur(r.Peer.Median)+" ("+r.Peer.Name+")", fmt.Sprintf("%.2f", r.Ratio)
		}
		if sp, ok := speed[resultKey(r)]; ok {
			row.SpeedS = fmt.Sprintf("%.2fx", sp)
		}
		// A note several figures share (the bls suite's missing peer) is shown once.
		if r.Note != "" && !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.HasSuffix(n, ": "+r.Note) }) {
			s.Notes = append(s.Notes, r.Name+": "+r.Note)
		}
		if r.Name == "pool/batch-verify" {
			s.Notes = append(s.Notes, epochLine(r))
		}
		s.Results = append(s.Results, row)
	}
	cpus := rep.CPUCounts()
	for _, s := range suites {
		if s.Name == "prover" {
			s.Derived = proverEpochHTML(rep)
		}
		var rs []Result
		for _, row := range s.Results {
			rs = append(rs, row.Result)
		}
		s.Plots = append(s.Plots, timePlot(s.Name, rs))
		if p, ok := peerPlot(s.Name, rs); ok {
			s.Plots = append(s.Plots, p)
		}
		if p, ok := latencyPlot(s.Name, rs); ok {
			s.Plots = append(s.Plots, p)
		}
		if p, ok := batchPlot(s.Name, rs); ok {
			s.Plots = append(s.Plots, p)
		}
		if len(cpus) > 1 {
			s.Plots = append(s.Plots, scalingPlot(s.Name, rs, cpus))
		}
	}
	m := rep.Machine
	return page.Execute(w, map[string]any{
		"Rep": rep, "Suites": suites, "CPUs": fmt.Sprint(cpus),
		"Mem": fmt.Sprintf("%.1f GiB", float64(m.MemoryBytes)/(1<<30)), "Started": rep.Started.Format(time.RFC3339),
	})
}

func dur(ns float64) string { return round(time.Duration(ns)).String() }

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zkv bench report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:13px}svg{display:block;margin:1em 0}
section{border-top:2px solid #333;margin-top:2em}
</style></head><body>
<h1>zkv bench</h1>
<p>{{.Started}}{{if .Rep.Quick}}, quick mode{{end}}. Machine: {{.Rep.Machine.CPUModel}}, {{.Rep.Machine.NumCPU}} CPUs,
{{.Mem}}, {{.Rep.Machine.GoVersion}} {{.Rep.Machine.GOOS}}/{{.Rep.Machine.GOARCH}}, {{.Rep.Machine.Module}}.
GOMAXPROCS measured: {{.CPUs}}. Report schema version {{.Rep.SchemaVersion}}.</p>
<p class="note">Each figure: one warm-up operation, then repeated timed runs; the median run with the fastest and slowest
(min..max), and the 99th percentile of single operations where latency matters. Ratio = zkv time / peer time
(below 1: zkv is faster).</p>
{{range .Suites}}<section id="suite-{{.Name}}"><h2>suite {{.Name}}</h2>
<table><tr><th>scenario</th><th>cpus</th><th>median/op</th><th>min .. max</th><th>p99</th><th>per second</th><th>peer</th><th>ratio</th><th>speed-up</th></tr>
{{range .Results}}<tr><td title="{{.Description}}">{{.Name}}</td><td>{{.CPUs}}</td><td>{{.MedianS}}</td><td>{{.RangeS}}</td><td>{{.P99S}}</td><td>{{printf "%.1f" .PerSecond}} {{.ItemUnit}}</td><td>{{.PeerS}}</td><td>{{.RatioS}}</td><td>{{.SpeedS}}</td></tr>
{{end}}</table>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{.Derived}}
{{range .Plots}}{{.}}
{{end}}</section>
{{end}}</body></html>
`))

// svg helpers: every plot is a fixed-width SVG with a title, one row per figure.
const plotW, labelW, rowH = 900, 300, 26

func svgOpen(b *strings.Builder, class, title string, rows int) {
	h := 40 + rows*rowH + 24
	fmt.Fprintf(b, `<svg class="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, class, plotW, h, plotW, h)
	fmt.Fprintf(b, `<text x="0" y="18" font-size="14" font-weight="bold">%s</text>`, html.EscapeString(title))
}

func label(r Result) string {
	if r.CPUs > 0 {
		return fmt.Sprintf("%s @%d", r.Name, r.CPUs)
	}
	return r.Name
}

// timePlot: per figure, a bar to the median time per item with a whisker over the runs'
// min..max, on one shared logarithmic axis so that microseconds and seconds share a plot.
func timePlot(suite string, rs []Result) template.HTML {
	var b strings.Builder
	svgOpen(&b, "plot-time", "suite "+suite+": time per item, median bar, min..max whisker (log scale)", len(rs))
	lo, hi := math.Inf(1), 0.0
	for _, r := range rs {
		n := float64(r.ItemsPerOp)
		lo, hi = min(lo, r.Min/n), max(hi, r.Max/n)
	}
	// At least one power of ten on the axis, so that it has a labelled tick.
	lo, hi = min(math.Log10(lo)-0.3, math.Floor(math.Log10(lo))), math.Log10(hi)+0.1
	x := func(v float64) float64 { return labelW + (math.Log10(v)-lo)/(hi-lo)*(plotW-labelW-120) }
	logTicks(&b, lo, hi, x, 40, 40+len(rs)*rowH)
	for i, r := range rs {
		y := 40 + i*rowH
		n := float64(r.ItemsPerOp)
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+14, html.EscapeString(label(r)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#4a7bd0"/>`, labelW, y+2, x(r.Median/n)-labelW)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#000"/>`, x(r.Min/n), x(r.Max/n), y+10, y+10)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s/%s</text>`, x(r.Max/n)+6, y+14, dur(r.Median/n), html.EscapeString(r.ItemUnit))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// peerPlot: zkv against its peer, time per item, on a linear axis from 0. Figures that share
// one peer (the prover's four zkv modes against stock gnark at a depth) are drawn together
// above a single peer bar, all on the group's scale.
func peerPlot(suite string, rs []Result) (template.HTML, bool) {
	var groups [][]Result
	for _, r := range rs {
		if r.Peer == nil {
			continue
		}
		if n := len(groups); n > 0 {
			if last := groups[n-1][0]; last.Peer.Name == r.Peer.Name && last.CPUs == r.CPUs {
				groups[n-1] = append(groups[n-1], r)
				continue
			}
		}
		groups = append(groups, []Result{r})
	}
	if len(groups) == 0 {
		return "", false
	}
	rows := 0
	for _, g := range groups {
		rows += len(g) + 1
	}
	var b strings.Builder
	svgOpen(&b, "plot-peer", "suite "+suite+": zkv (blue) against its peer (grey), time per item, shorter is faster; each group on its own scale", rows)
	y := 40
	for _, g := range groups {
		peer := g[0].Peer.Median / float64(g[0].ItemsPerOp)
		hi := peer
		for _, r := range g {
			hi = max(hi, r.Median/float64(r.ItemsPerOp))
		}
		x := func(v float64) float64 { return v / hi * (plotW - labelW - 200) }
		for _, r := range g {
			v := r.Median / float64(r.ItemsPerOp)
			fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+14, html.EscapeString(label(r)))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#4a7bd0"/><text x="%.1f" y="%d">zkv %s (ratio %.2f)</text>`, labelW, y+2, x(v), labelW+x(v)+6, y+14, dur(v), r.Ratio)
			y += rowH
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" fill="#555">%s</text>`, y+14, html.EscapeString(g[0].Peer.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#999"/><text x="%.1f" y="%d">peer %s</text>`, labelW, y+2, x(peer), labelW+x(peer)+6, y+14, dur(peer))
		y += rowH
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), true
}

// latencyPlot: for figures whose latency matters, the fastest run, the median and the p99 of
// single operations as marks on one logarithmic axis shared by the suite, values printed.
func latencyPlot(suite string, rs []Result) (template.HTML, bool) {
	var with []Result
	for _, r := range rs {
		if r.P99 > 0 {
			with = append(with, r)
		}
	}
	if len(with) == 0 {
		return "", false
	}
	var b strings.Builder
	svgOpen(&b, "plot-latency", "suite "+suite+": latency per operation (log scale): fastest run (black |), median (dot), p99 (red |)", len(with))
	lo, hi := math.Inf(1), 0.0
	for _, r := range with {
		lo, hi = min(lo, r.Min), max(hi, r.P99, r.Max)
	}
	lo, hi = min(math.Log10(lo)-0.2, math.Floor(math.Log10(lo))), math.Log10(hi)+0.1
	x := func(v float64) float64 { return labelW + (math.Log10(v)-lo)/(hi-lo)*(plotW-labelW-280) }
	logTicks(&b, lo, hi, x, 40, 40+len(with)*rowH)
	for i, r := range with {
		y := 40 + i*rowH
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, y+14, html.EscapeString(label(r)))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#bbb"/>`, x(r.Min), x(max(r.P99, r.Max)), y+10, y+10)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#000" stroke-width="2"/>`, x(r.Min), x(r.Min), y+3, y+17)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="5" fill="#4a7bd0"/>`, x(r.Median), y+10)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#c00" stroke-width="2"/>`, x(r.P99), x(r.P99), y+3, y+17)
		fmt.Fprintf(&b, `<text x="%d" y="%d">min %s  median %s  p99 %s</text>`, plotW-270, y+14, dur(r.Min), dur(r.Median), dur(r.P99))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), true
}

// batchLines groups the results of a suite that belong to a series by series and GOMAXPROCS,
// each line sorted by batch size, keeping the lines with at least two sizes.
func batchLines(rs []Result) (names []string, lines map[string][]Result) {
	lines = map[string][]Result{}
	for _, r := range rs {
		if r.Series == "" {
			continue
		}
		k := fmt.Sprintf("%s @%d", r.Series, r.CPUs)
		if _, ok := lines[k]; !ok {
			names = append(names, k)
		}
		lines[k] = append(lines[k], r)
	}
	var keep []string
	for _, k := range names {
		l := lines[k]
		slices.SortFunc(l, func(a, b Result) int { return a.ItemsPerOp - b.ItemsPerOp })
		if len(l) > 1 && l[0].ItemsPerOp != l[len(l)-1].ItemsPerOp {
			keep = append(keep, k)
		} else {
			delete(lines, k)
		}
	}
	return keep, lines
}

// batchPlot: throughput (items per second at the median) against batch size, one line per
// series and GOMAXPROCS, batch size on a log-2 axis and throughput linear from zero, so that
// where batching stops paying shows as the line flattening.
func batchPlot(suite string, rs []Result) (template.HTML, bool) {
	names, lines := batchLines(rs)
	if len(names) == 0 {
		return "", false
	}
	const w, h, left, top, pw, ph = 1000, 340, 80, 40, 560, 250
	lo, hi, ylo, yhi := math.Inf(1), 0.0, math.Inf(1), 0.0
	unit := ""
	for _, k := range names {
		for _, r := range lines[k] {
			lo, hi = min(lo, float64(r.ItemsPerOp)), max(hi, float64(r.ItemsPerOp))
			ylo, yhi = min(ylo, r.PerSecond), max(yhi, r.PerSecond)
			unit = r.ItemUnit
		}
	}
	lo, hi = math.Log2(lo), math.Log2(hi)
	px := func(n int) float64 { return left + (math.Log2(float64(n))-lo)/math.Max(hi-lo, 1)*pw }
	// Linear from zero while the lines are of one magnitude; logarithmic when they span more than
	// tenfold, so that a flat line far below the others does not lie on the axis.
	logY := yhi > 10*ylo
	var py func(v float64) float64
	var yticks []float64
	if logY {
		a, z := math.Floor(math.Log10(ylo)), math.Ceil(math.Log10(yhi))
		py = func(v float64) float64 { return top + ph - (math.Log10(v)-a)/(z-a)*ph }
		for e := a; e <= z; e++ {
			yticks = append(yticks, math.Pow(10, e))
		}
	} else {
		ymax := yhi * 1.1
		py = func(v float64) float64 { return top + ph - v/ymax*ph }
		yticks = []float64{0, yhi / 2, yhi}
	}
	scale := "linear"
	if logY {
		scale = "log scale"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot-batch" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="0" y="18" font-size="14" font-weight="bold">suite %s: throughput against batch size (%s/s at the median, %s; higher is better)</text>`, html.EscapeString(suite), html.EscapeString(unit), scale)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>`, left, top, left, top+ph, left, top+ph, left+pw, top+ph)
	sizes := map[int]bool{}
	for _, k := range names {
		for _, r := range lines[k] {
			if !sizes[r.ItemsPerOp] {
				sizes[r.ItemsPerOp] = true
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, px(r.ItemsPerOp), top+ph+16, r.ItemsPerOp)
			}
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d">batch size (%ss per operation, log scale)</text>`, left+pw/2-90, top+ph+34, html.EscapeString(unit))
	for _, v := range yticks {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`, left, left+pw, py(v), py(v), left-4, py(v)+4, rate(v))
	}
	// zkv's lines in colour; a peer's (blst) in grey and dashed, as the other plots show peers.
	isPeer := map[string]bool{}
	for _, r := range rs {
		if r.Peer != nil {
			isPeer[r.Peer.Name] = true
		}
	}
	colors := []string{"#4a7bd0", "#d0704a", "#3a9a4a", "#9a4ad0", "#c0a000", "#00a0a0"}
	greys := []string{"#888", "#444", "#bbb"}
	nz, np := 0, 0
	for i, k := range names {
		col, dash := colors[nz%len(colors)], ""
		if isPeer[lines[k][0].Name] {
			col, dash = greys[np%len(greys)], ` stroke-dasharray="6,4"`
			np++
		} else {
			nz++
		}
		var pts []string
		for _, r := range lines[k] {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(r.ItemsPerOp), py(r.PerSecond)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %d, %.0f %s/s</title></circle>`, px(r.ItemsPerOp), py(r.PerSecond), col, html.EscapeString(r.Name), r.ItemsPerOp, r.PerSecond, html.EscapeString(unit))
		}
		last := lines[k][len(lines[k])-1]
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), col, dash)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s (%.0f/s at %d)</text>`, left+pw+20, top+i*18, col, left+pw+34, top+i*18+10, html.EscapeString(k), last.PerSecond, last.ItemsPerOp)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), true
}

// rate prints a throughput with three significant digits and a k or M suffix.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// logTicks draws a grid line and a label at each power of ten (in ns) between lo and hi
// (log10 of ns), below the rows.
func logTicks(b *strings.Builder, lo, hi float64, x func(float64) float64, top, bottom int) {
	for e := math.Ceil(lo); e <= hi; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#e4e4e4"/>`, x(v), x(v), top, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#777" font-size="10">%s</text>`, x(v), bottom+14, time.Duration(v))
	}
}

// scalingPlot: throughput against cores as speed-up over the fewest cores, one line per
// scenario, with the ideal (linear) speed-up dashed.
func scalingPlot(suite string, rs []Result, cpus []int) template.HTML {
	const w, h, left, top, pw, ph = 900, 320, 60, 40, 560, 240
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot-scaling" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="0" y="18" font-size="14" font-weight="bold">suite %s: throughput against cores (speed-up over %d core(s); dashed: linear)</text>`, html.EscapeString(suite), cpus[0])
	maxC := float64(cpus[len(cpus)-1])
	ideal := maxC / float64(cpus[0])
	base := map[string]Result{}
	byName := map[string][]Result{}
	var names []string
	for _, r := range rs {
		if _, ok := byName[r.Name]; !ok {
			names = append(names, r.Name)
		}
		byName[r.Name] = append(byName[r.Name], r)
		if b0, ok := base[r.Name]; !ok || r.CPUs < b0.CPUs {
			base[r.Name] = r
		}
	}
	ymax := ideal
	for _, r := range rs {
		ymax = max(ymax, r.PerSecond/base[r.Name].PerSecond)
	}
	ymax *= 1.1
	px := func(c float64) float64 { return left + (c-float64(cpus[0]))/math.Max(maxC-float64(cpus[0]), 1)*pw }
	py := func(s float64) float64 { return top + ph - s/ymax*ph }
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>`, left, top, left, top+ph, left, top+ph, left+pw, top+ph)
	for _, c := range cpus {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, px(float64(c)), top+ph+16, c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d">cores (GOMAXPROCS)</text>`, left+pw/2-50, top+ph+32)
	for _, s := range []float64{0, ymax / 2, ymax} {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.1fx</text>`, left-4, py(s)+4, s)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="5,4"/>`, px(float64(cpus[0])), py(1), px(maxC), py(ideal))
	colors := []string{"#4a7bd0", "#d0704a", "#3a9a4a", "#9a4ad0", "#c0a000", "#00a0a0", "#a00060"}
	for i, n := range names {
		col := colors[i%len(colors)]
		var pts []string
		for _, r := range byName[n] {
			s := r.PerSecond / base[n].PerSecond
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(r.CPUs)), py(s)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(float64(r.CPUs)), py(s), col)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), col)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`, left+pw+20, top+i*18, col, left+pw+34, top+i*18+10, html.EscapeString(n))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ErrReport reports an HTML page that does not show what its report holds.
var ErrReport = fmt.Errorf("bench HTML report incomplete")

// ValidateHTML checks that page renders rep: a section per suite with its time plot, a peer plot
// where a suite has peers, a latency plot where it has p99s, a batch-size plot where a series has
// two sizes or more, a scaling plot when several GOMAXPROCS were measured, the prover's derived per-epoch table, every figure's name, and
// nothing that needs the network (no script, stylesheet link, image source or remote URL).
func ValidateHTML(page []byte, rep Report) error {
	s := string(page)
	for _, bad := range []string{"<script", "<link", "src=", "url(", "https://", "@import"} {
		if strings.Contains(s, bad) {
			return fmt.Errorf("%w: contains %q, which may need the network", ErrReport, bad)
		}
	}
	if n := strings.Count(s, "http://") - strings.Count(s, `xmlns="http://www.w3.org/2000/svg"`); n != 0 {
		return fmt.Errorf("%w: %d remote URLs", ErrReport, n)
	}
	sections := map[string]string{}
	for _, part := range strings.Split(s, `<section id="suite-`)[1:] {
		name, body, _ := strings.Cut(part, `"`)
		sections[name] = body
	}
	multi := len(rep.CPUCounts()) > 1
	batched := map[string]bool{} // suites with a series measured at two or more batch sizes
	bySuite := map[string][]Result{}
	for _, r := range rep.Results {
		bySuite[r.Suite] = append(bySuite[r.Suite], r)
	}
	for s, rs := range bySuite {
		if names, _ := batchLines(rs); len(names) > 0 {
			batched[s] = true
		}
	}
	for _, r := range rep.Results {
		body, ok := sections[r.Suite]
		if !ok {
			return fmt.Errorf("%w: no section for suite %s", ErrReport, r.Suite)
		}
		need := []string{`class="plot-time"`, html.EscapeString(r.Name)}
		if r.Peer != nil {
			need = append(need, `class="plot-peer"`)
		}
		if r.P99 > 0 {
			need = append(need, `class="plot-latency"`)
		}
		if batched[r.Suite] {
			need = append(need, `class="plot-batch"`)
		}
		if multi {
			need = append(need, `class="plot-scaling"`)
		}
		if r.Suite == "prover" && len(epochTables(rep)) > 0 {
			need = append(need, `class="epoch-derived"`)
		}
		for _, n := range need {
			if !strings.Contains(body, n) {
				return fmt.Errorf("%w: suite %s lacks %s", ErrReport, r.Suite, n)
			}
		}
	}
	if len(sections) != len(suitesOf(rep)) {
		return fmt.Errorf("%w: %d sections for %d suites", ErrReport, len(sections), len(suitesOf(rep)))
	}
	return nil
}

func suitesOf(rep Report) map[string]bool {
	out := map[string]bool{}
	for _, r := range rep.Results {
		out[r.Suite] = true
	}
	return out
}
