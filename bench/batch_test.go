package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A series measured at several batch sizes gets a throughput-against-batch-size plot with one
// line per series and GOMAXPROCS; a series with one size gets none; the page validator insists
// on the plot where the report has such a series; the JSON keeps the series.
func TestReportPlotsBatchSeries(t *testing.T) {
	rep := syntheticReport([]int{2})
	for _, n := range []int{16, 64, 512} {
		for _, impl := range []string{"", "-blst"} {
			r := syntheticResult(batchName(n, n)+impl, 2, 1e3*float64(n), 1.1e3*float64(n), 1.2e3*float64(n))
			r.ItemsPerOp, r.ItemUnit, r.Series = n, "signature", "zkv"+impl
			r.PerSecond = float64(n) * 1e9 / r.Median
			rep.Results = append(rep.Results, r)
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if err := ValidateHTML(page.Bytes(), rep); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(html, `class="plot-batch"`); got != 1 {
		t.Fatalf("%d batch plots, want 1 (bls; pool's series has one size)", got)
	}
	bls := html[strings.Index(html, `<section id="suite-bls"`):]
	bls = bls[:strings.Index(bls, "</section>")]
	if !strings.Contains(bls, `class="plot-batch"`) || strings.Count(bls, "<polyline") != 2 {
		t.Fatalf("the bls section lacks its two batch lines")
	}
	for _, label := range []string{"zkv @2", "zkv-blst @2", ">16<", ">64<", ">512<"} {
		if !strings.Contains(bls, label) {
			t.Fatalf("batch plot lacks %q", label)
		}
	}
	gone := strings.Replace(html, `class="plot-batch"`, `class="plot-other"`, 1)
	if err := ValidateHTML([]byte(gone), rep); !errors.Is(err, ErrReport) {
		t.Fatalf("page without its batch plot: %v", err)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Results[len(back.Results)-1].Series; got != "zkv-blst" {
		t.Fatalf("series after a JSON round trip: %q", got)
	}
}

// The bls suite's batch scenarios form two series (distinct messages, 16 messages) over
// several sizes, and quick mode keeps the ends of each.
func TestBLSBatchSeries(t *testing.T) {
	sizes := map[string][]int{}
	quick := map[string]int{}
	for _, s := range BLSScenarios() {
		if s.Series == "" || strings.HasSuffix(s.Name, "-blst") {
			continue
		}
		var n int
		for _, b := range blsBatches {
			if batchName(b.n, b.msgs) == s.Name {
				n = b.n
			}
		}
		if n == 0 {
			t.Fatalf("%s: series %q but not a batch", s.Name, s.Series)
		}
		sizes[s.Series] = append(sizes[s.Series], n)
		if s.Skip(true) == "" {
			quick[s.Series]++
		}
		if s.Skip(false) != "" {
			t.Fatalf("%s skipped in the full run", s.Name)
		}
	}
	if len(sizes) != 2 || len(sizes["batch verify, distinct messages"]) < 4 || len(sizes["batch verify, 16 messages"]) < 3 {
		t.Fatalf("series: %v", sizes)
	}
	for s, n := range quick {
		if n != 2 {
			t.Fatalf("quick mode keeps %d sizes of %s, want 2", n, s)
		}
	}
}
