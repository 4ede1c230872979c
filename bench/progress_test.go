package bench

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func quickOp(name string) Scenario {
	return Scenario{Name: name, Unit: "op", Setup: func(context.Context, bool) (Prepared, error) {
		return Prepared{Op: func() error { return nil }, Items: 1}, nil
	}}
}

// Without a terminal, Progress writes the plain lines and nothing else; with one, a bar that
// names the scenario and its place, lifted off the line while a finished line is written and
// cleared at the end.
func TestBenchProgress(t *testing.T) {
	sc := []Scenario{quickOp("t/one"), quickOp("t/two")}
	var plain bytes.Buffer
	p := NewProgress(&plain, nil)
	if _, err := Run(context.Background(), sc, Options{Duration: time.Millisecond, Runs: 1, Progress: p}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	line := regexp.MustCompile(`^  t/(one|two) +1 runs, +\d+ ops, median .+/op$`)
	lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	if len(lines) != 2 || !line.MatchString(lines[0]) || !line.MatchString(lines[1]) {
		t.Fatalf("plain progress:\n%q", plain.String())
	}

	var out, bar bytes.Buffer
	p = NewProgress(&out, &bar)
	if _, err := Run(context.Background(), sc, Options{Duration: time.Millisecond, Runs: 1, Progress: p}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 2 || !line.MatchString(got[0]) || !line.MatchString(got[1]) {
		t.Fatalf("lines with a bar beside them: %q", out.String())
	}
	b := bar.String()
	for _, want := range []string{"\r\033[K[", "] 1/2 t/one ", "] 2/2 t/two ", "(run "} {
		if !strings.Contains(b, want) {
			t.Fatalf("bar lacks %q: %q", want, b)
		}
	}
	if !strings.HasSuffix(b, "\r\033[K") {
		t.Fatalf("bar not cleared at the end: %q", b)
	}
	if got := (&Progress{i: 3, n: 4, name: "x"}).barLine(time.Now()); !strings.HasPrefix(got, "[############............] 3/4 x ") {
		t.Fatalf("bar of 3/4: %q", got)
	}
}

// Reset runs before every operation, outside the timed region; a scenario whose Skip gives a
// reason does not run, and the progress says why.
func TestBenchResetAndSkip(t *testing.T) {
	// Were the reset timed, every figure would be at least its sleep.
	const sleep = 30 * time.Millisecond
	resets, ops := 0, 0
	slowReset := Scenario{Name: "t/reset", Unit: "op", Setup: func(context.Context, bool) (Prepared, error) {
		return Prepared{
			Reset: func() error { resets++; time.Sleep(sleep); return nil },
			Op:    func() error { ops++; return nil },
			Items: 1,
		}, nil
	}}
	skipped := quickOp("t/skipped")
	skipped.Skip = func(quick bool) string {
		if quick {
			return "full run only"
		}
		return ""
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), []Scenario{slowReset, skipped}, Options{Quick: true, Duration: time.Millisecond, Runs: 3, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, 1)
	if r := rep.Results[0]; resets != ops || ops != r.Ops+1 || r.Max >= float64(sleep) {
		t.Fatalf("%d resets, %d ops, figure %+v: the reset is timed", resets, ops, r)
	}
	if !strings.Contains(progress.String(), "skipping 1 scenarios: full run only") {
		t.Fatalf("progress:\n%s", progress.String())
	}
	if _, err := Run(context.Background(), []Scenario{skipped}, Options{Quick: true, Duration: time.Millisecond}); err == nil || !strings.Contains(err.Error(), "full run only") {
		t.Fatalf("only skipped scenarios: %v", err)
	}
	failing := Scenario{Name: "t/fails", Unit: "op", Setup: func(context.Context, bool) (Prepared, error) {
		return Prepared{Reset: func() error { return errInvalid }, Op: func() error { return nil }, Items: 1}, nil
	}}
	if _, err := Run(context.Background(), []Scenario{failing}, Options{Duration: time.Millisecond}); !errors.Is(err, errInvalid) {
		t.Fatalf("a failing reset: %v", err)
	}
}
