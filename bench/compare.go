package bench

import (
	"fmt"
	"io"
	"time"
)

// Change is one figure in two reports: the same scenario at the same GOMAXPROCS.
type Change struct {
	Name     string
	CPUs     int
	Old, New Result
	// Percent is the change of the median time per operation (positive: slower).
	Percent float64
	// Significant is true when the two runs' spreads do not overlap: every run of one report was
	// slower than every run of the other. Differences inside the spread are run-to-run noise.
	Significant bool
}

// Comparison is a new report against an old one.
type Comparison struct {
	Changes []Change
	// OnlyOld and OnlyNew list figures measured in one report and not the other.
	OnlyOld, OnlyNew []string
}

// Compare matches figures by scenario and GOMAXPROCS. A figure is flagged when the spread of
// runs (min..max) of the two reports do not overlap, the test that needs no distribution
// assumption: with five runs each, a noisy difference rarely separates the ranges entirely.
// Times per operation are compared per item, so a figure stays comparable when quick mode
// changed the batch size.
func Compare(old, cur Report) Comparison {
	var c Comparison
	olds := map[key]Result{}
	for _, r := range old.Results {
		olds[resultKey(r)] = r
	}
	seen := map[key]bool{}
	for _, n := range cur.Results {
		k := resultKey(n)
		o, ok := olds[k]
		if !ok {
			c.OnlyNew = append(c.OnlyNew, fmt.Sprintf("%s@%d", n.Name, n.CPUs))
			continue
		}
		seen[k] = true
		per := func(r Result, v float64) float64 { return v / float64(r.ItemsPerOp) }
		ch := Change{Name: n.Name, CPUs: n.CPUs, Old: o, New: n,
			Percent: (per(n, n.Median)/per(o, o.Median) - 1) * 100}
		ch.Significant = per(n, n.Min) > per(o, o.Max) || per(n, n.Max) < per(o, o.Min)
		c.Changes = append(c.Changes, ch)
	}
	for _, o := range old.Results {
		if !seen[resultKey(o)] {
			c.OnlyOld = append(c.OnlyOld, fmt.Sprintf("%s@%d", o.Name, o.CPUs))
		}
	}
	return c
}

// Significant returns the flagged changes.
func (c Comparison) Significant() []Change {
	var out []Change
	for _, ch := range c.Changes {
		if ch.Significant {
			out = append(out, ch)
		}
	}
	return out
}

// WriteComparison prints each figure's old and new median per item, the change, and a flag
// (SLOWER or FASTER) where the change is outside both runs' spread.
func WriteComparison(w io.Writer, c Comparison) {
	fmt.Fprintf(w, "%-34s %4s %12s %12s %9s  %s\n", "scenario", "cpus", "old/item", "new/item", "change", "")
	d := func(r Result, v float64) string { return round(time.Duration(v / float64(r.ItemsPerOp))).String() }
	for _, ch := range c.Changes {
		flag := "within run-to-run spread"
		if ch.Significant {
			flag = "FASTER (outside spread)"
			if ch.Percent > 0 {
				flag = "SLOWER (outside spread)"
			}
		}
		fmt.Fprintf(w, "%-34s %4d %12s %12s %+8.1f%%  %s\n", ch.Name, ch.CPUs, d(ch.Old, ch.Old.Median), d(ch.New, ch.New.Median), ch.Percent, flag)
	}
	for _, n := range c.OnlyOld {
		fmt.Fprintf(w, "%-34s only in the old report\n", n)
	}
	for _, n := range c.OnlyNew {
		fmt.Fprintf(w, "%-34s only in the new report\n", n)
	}
	fmt.Fprintf(w, "%d of %d figures changed outside the run-to-run spread\n", len(c.Significant()), len(c.Changes))
}
