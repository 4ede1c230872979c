package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/pbs"
)

// runSuite runs one suite in quick mode, checks every figure, the JSON schema and the report
// page, and that the suite's servers and goroutines are gone once Run returns.
func runSuite(t *testing.T, suite string, ignore []string, wantNames ...string) Report {
	t.Helper()
	before := goroutines()
	sc, err := Select([]string{suite})
	if err != nil {
		t.Fatal(err)
	}
	if got := Names(sc); strings.Join(got, " ") != strings.Join(wantNames, " ") {
		t.Fatalf("suite %s has %v, want %v", suite, got, wantNames)
	}
	// Quick mode may leave some out (Skip); the full run has them all.
	var quick []Scenario
	for _, s := range sc {
		if s.Skip != nil && s.Skip(false) != "" {
			t.Fatalf("%s is skipped in the full run: %s", s.Name, s.Skip(false))
		}
		if s.Skip == nil || s.Skip(true) == "" {
			quick = append(quick, s)
		}
	}
	sc = quick
	rep, err := Run(context.Background(), sc, Options{Quick: true, Duration: 10 * time.Millisecond, Runs: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, len(sc))
	for i, r := range rep.Results {
		if r.Name != sc[i].Name || r.Suite != suite || r.ItemsPerOp < 1 || r.SetupNs <= 0 {
			t.Fatalf("result %d: %+v", i, r)
		}
		if sc[i].Latency != (r.P99 > 0) {
			t.Fatalf("%s: latency %v, p99 %v", r.Name, sc[i].Latency, r.P99)
		}
		if sc[i].Peer != "" && (r.Peer == nil || r.Peer.Name != sc[i].Peer || r.Ratio <= 0) {
			t.Fatalf("%s: peer %+v ratio %v, want %s", r.Name, r.Peer, r.Ratio, sc[i].Peer)
		}
	}
	page := checkOutputs(t, rep)
	if !strings.Contains(page.String(), `<section id="suite-`+suite+`"`) {
		t.Fatalf("the report has no section for %s", suite)
	}
	var table bytes.Buffer
	WriteTable(&table, rep)
	t.Logf("\n%s", table.String())
	checkGoroutines(t, before, ignore...)
	return rep
}

// checkGoroutines waits (a little: connections close asynchronously) for the goroutines started
// since before to end, and fails with the stacks of the ones left. It ignores what it was told
// to ignore (known leaks of other packages, named where they are passed).
func checkGoroutines(t *testing.T, before map[string]bool, ignore ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := newGoroutines(before, ignore)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after the suite:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goroutines returns the stacks of the running goroutines by their "goroutine N" line.
func goroutines() map[string]bool {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]bool{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		out[id] = true
	}
	return out
}

func newGoroutines(before map[string]bool, ignore []string) []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		if before[id] || strings.Contains(g, "bench.newGoroutines") {
			continue
		}
		known := false
		for _, s := range ignore {
			known = known || strings.Contains(g, s)
		}
		if !known {
			left = append(left, g)
		}
	}
	return left
}

// The relay suite runs a real relay, beacon node and simulator and stops them all.
func TestRelaySuite(t *testing.T) {
	rep := runSuite(t, "relay", nil, "relay/getheader-under-load", "relay/submissions-quic", "relay/submissions-http",
		"relay/submit-to-topbid-quic", "relay/submit-to-topbid-http")
	if r := rep.Results[1]; r.ItemsPerOp != relayBuilders {
		t.Fatalf("%s: %d submissions an operation, want %d", r.Name, r.ItemsPerOp, relayBuilders)
	}
}

// A submission the relay refuses fails the scenario: a figure is only taken of accepted bids.
func TestRelayRefusalFails(t *testing.T) {
	before := goroutines()
	ctx := context.Background()
	rig, err := newRelayRig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := rig.builders(1, 1)
	if err != nil {
		rig.close()
		t.Fatal(err)
	}
	s, body := bs[0].take()
	c := rig.client()
	if err := rig.postSubmission(ctx, c, body); err != nil {
		rig.close()
		t.Fatalf("a good submission: %v", err)
	}
	// A higher value than the builder signed: the signature no longer holds.
	trace := *s.Trace
	trace.Value = new(uint256.Int).AddUint64(trace.Value, 1)
	forged := *s
	forged.Trace = &trace
	bad, err := forged.Encode(pbs.MediaSSZ)
	if err != nil {
		rig.close()
		t.Fatal(err)
	}
	err = rig.postSubmission(ctx, c, bad)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "signature") {
		rig.close()
		t.Fatalf("a tampered submission: %v, want a 400", err)
	}
	if h, err := rig.getHeader(ctx, c); err != nil || h != s.Payload.BlockHash {
		rig.close()
		t.Fatalf("getHeader after the refusal: %v %#x", err, h)
	}
	rig.close()
	checkGoroutines(t, before)
}

// The validator suite records a live client and replays what it recorded.
func TestValidatorSuite(t *testing.T) {
	rep := runSuite(t, "validator", nil, "validator/attestations-per-slot", "validator/proposal-per-slot")
	rec, err := recordedDuties(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.attest) != dutySlots(true) || len(rec.propose) != dutySlots(true) {
		t.Fatalf("recorded %d attestation and %d proposal slots, want %d", len(rec.attest), len(rec.propose), dutySlots(true))
	}
	// The replayed figures stay within what was recorded (plus the timer's lateness).
	for i, lat := range [][]time.Duration{rec.attest, rec.propose} {
		lo, hi := lat[0], lat[0]
		for _, d := range lat {
			lo, hi = min(lo, d), max(hi, d)
		}
		r := rep.Results[i]
		if time.Duration(r.Min) < lo || time.Duration(r.Max) > hi+50*time.Millisecond || hi >= time.Second {
			t.Fatalf("%s: replayed %v..%v, recorded %v..%v", r.Name, time.Duration(r.Min), time.Duration(r.Max), lo, hi)
		}
	}
}

// The devnet suite runs the network live and stops it.
func TestDevnetSuite(t *testing.T) {
	// Quick mode starts one network, for proofs-verified: 8 validators, one attester a slot.
	rep := runSuite(t, "devnet", nil, "devnet/slots", "devnet/attestations-included", "devnet/proofs-verified")
	if r := rep.Results[0]; r.Name != "devnet/proofs-verified" || r.PerSecond < 0.5 || r.PerSecond > 2 {
		t.Fatalf("%s: %.2f proofs a second with 1 s slots and one attester a slot", r.Name, r.PerSecond)
	}
}

// The devnet scenarios read the live view's slot lines, and a chain whose last slots have no
// block fails the wait instead of giving a figure.
func TestDevnetStalledChainFails(t *testing.T) {
	v := newViewLines()
	for _, l := range []string{
		"zkv devnet: 8 validators in 2 validator clients, 1 relay(s), 1 builder(s), 1s slots, until slot 1048576 (epoch 131072)\n",
		"slot    1  epoch   0  proposer    5  builder 0.0612 ETH relay-1 builder-1    attested   1/1    included    1  aggregates  1  justified   0  finalized   0  proofs 2\n",
		"slot    2  epoch   0  proposer    3  local (0 bids)                  attested   1/1    included    1  aggregates  1  justified   0  finalized   0  proofs 3\n",
	} {
		// Written in pieces, as a writer may be.
		if _, err := v.Write([]byte(l[:7])); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Write([]byte(l[7:])); err != nil {
			t.Fatal(err)
		}
	}
	n := &devnetRun{view: v, done: make(chan struct{})}
	if got := v.snapshot(); len(got) != 2 || got[0] != (viewLine{slot: 1, included: 1, proofs: 2}) || got[1].proofs != 3 {
		t.Fatalf("parsed %+v", got)
	}
	if n.included() != 2 || n.proofs() != 3 || n.slotsSeen() != 2 {
		t.Fatalf("included %d proofs %d slots %d", n.included(), n.proofs(), n.slotsSeen())
	}
	for s := 3; s < 3+devnetStalled; s++ {
		fmt.Fprintf(v, "slot %4d  epoch   0  proposer    1  %-30s  attested   0/1    included    0  aggregates  0  justified   0  finalized   0  proofs 3\n", s, "missed")
	}
	_, err := n.waitFor(context.Background(), 100, false, func(n *devnetRun) int { return n.slotsSeen() })
	if err == nil || !strings.Contains(err.Error(), "stopped advancing") {
		t.Fatalf("wait on a chain without blocks: %v", err)
	}
}
