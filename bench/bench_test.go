package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Every scenario runs for real in quick mode and produces sane figures.
func TestScenariosRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario; the CLI test covers one in short mode")
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), All(), Options{Quick: true, Duration: time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, len(All()))
}

func TestRunFilterAndJSON(t *testing.T) {
	rep, err := Run(context.Background(), All(), Options{Quick: true, Duration: time.Millisecond, Filter: "bls/verify"})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, 1)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Results) != 1 || back.Results[0].Name != "bls/verify" {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
	buf.Reset()
	WriteTable(&buf, rep)
	if !strings.Contains(buf.String(), "bls/verify") {
		t.Fatalf("table lacks the scenario:\n%s", buf.String())
	}
	if _, err := Run(context.Background(), All(), Options{Filter: "no-such"}); err == nil {
		t.Fatal("a filter matching nothing must be an error")
	}
}

func TestRunFailsOnBrokenScenario(t *testing.T) {
	broken := Scenario{Name: "broken", Setup: func(context.Context, bool) (func() error, int, error) {
		return func() error { return errInvalid }, 1, nil
	}}
	if _, err := Run(context.Background(), []Scenario{broken}, Options{Duration: time.Millisecond}); err == nil {
		t.Fatal("a failing operation must fail the run")
	}
}

func checkReport(t *testing.T, rep Report, want int) {
	t.Helper()
	if len(rep.Results) != want {
		t.Fatalf("%d results, want %d", len(rep.Results), want)
	}
	for _, r := range rep.Results {
		if r.Ops < 3 || r.Mean <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.ItemsPerSec <= 0 {
			t.Fatalf("implausible result %+v", r)
		}
	}
}
