package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zkvlabs/zkv/validator/slashing"
)

// The breaker's rule, slot by slot, with an 8-slot window: blocks are the slots with a head
// event; the client watched from slot 1 (or 10, after a "restart").
func TestBreakerRule(t *testing.T) {
	cfg := BreakerConfig{Consecutive: 3, PerEpoch: 5}
	for _, c := range []struct {
		name        string
		cfg         BreakerConfig
		from        phase0.Slot
		blocks      []phase0.Slot
		slot        phase0.Slot
		open        bool
		consecutive int
		missed      int
	}{
		{"healthy", cfg, 1, []phase0.Slot{1, 2, 3, 4, 5, 6, 7, 8}, 9, false, 0, 0},
		{"two in a row", cfg, 1, []phase0.Slot{1, 2, 3, 4, 5, 6}, 9, false, 2, 2},
		{"three in a row", cfg, 1, []phase0.Slot{1, 2, 3, 4, 5}, 9, true, 3, 3},
		{"four in a row, but not right before the slot", cfg, 1, []phase0.Slot{1, 2, 3, 8}, 9, false, 0, 4},
		{"five in the epoch, scattered", cfg, 1, []phase0.Slot{2, 4, 6, 8}, 11, true, 2, 5},
		{"four in the epoch, scattered", cfg, 1, []phase0.Slot{2, 4, 6, 8, 10}, 11, false, 0, 4},
		{"old misses leave the window", cfg, 1, []phase0.Slot{9, 10, 11, 12, 13, 14, 15, 16}, 17, false, 0, 0},
		{"genesis is no miss", cfg, 0, nil, 1, false, 0, 0},
		{"unwatched slots are no misses", cfg, 10, []phase0.Slot{}, 11, false, 1, 1},
		{"unwatched slots, then three", cfg, 10, []phase0.Slot{}, 13, true, 3, 3},
		{"rule in a row off", BreakerConfig{PerEpoch: 5}, 1, []phase0.Slot{1, 2, 3, 4, 5}, 9, false, 3, 3},
		{"off", BreakerConfig{}, 1, nil, 9, false, 0, 0},
	} {
		b := newBreaker(c.cfg)
		b.watchFrom(c.from)
		for _, s := range c.blocks {
			b.observe(s)
		}
		open, changed, consecutive, missed := b.update(c.slot, 8)
		if open != c.open || changed != c.open || consecutive != c.consecutive || missed != c.missed {
			t.Errorf("%s: open %v changed %v, %d in a row, %d missed; want open %v, %d, %d", c.name, open, changed,
				consecutive, missed, c.open, c.consecutive, c.missed)
		}
		if b.isOpen() != c.open {
			t.Errorf("%s: isOpen %v", c.name, b.isOpen())
		}
	}
}

// The breaker closes once the chain is healthy again: blocks arrive and the misses leave the
// window.
func TestBreakerCloses(t *testing.T) {
	b := newBreaker(BreakerConfig{Consecutive: 3, PerEpoch: 5})
	b.watchFrom(1)
	if open, changed, _, _ := b.update(4, 8); !open || !changed {
		t.Fatal("slots 1-3 missed: not open")
	}
	b.observe(4)
	if open, _, _, _ := b.update(5, 8); open {
		t.Fatal("3 missed in the epoch and a block before the slot: still open")
	}
}

// While the breaker is open, a proposal asks for a local block (builder_boost_factor 0) even
// though the validator's boost factor is 100; when it is closed the factor is the validator's.
// The trip and the reset show in the metrics.
func TestBreakerForcesLocalProposal(t *testing.T) {
	s, node, _ := proposerService(t, "")
	reg := prometheus.NewRegistry()
	var err error
	if s.m, err = newMetrics(reg); err != nil {
		t.Fatal(err)
	}
	s.o.breaker = BreakerConfig{Consecutive: 2}
	s.brk = newBreaker(s.o.breaker)
	s.spec.slotsPerEpoch = 8
	node.bid = big.NewInt(1)
	s.brk.watchFrom(1)
	s.checkBreaker(3) // slots 1 and 2 missed
	s.propose(context.Background(), 3, 0)
	s.brk.observe(3)
	s.checkBreaker(4)
	s.propose(context.Background(), 4, 0)
	if len(node.opts) != 2 {
		t.Fatalf("%d produceBlockV3 calls, want 2", len(node.opts))
	}
	if f := node.opts[0].BuilderBoostFactor; f == nil || *f != 0 {
		t.Errorf("breaker open: boost factor %v, want 0", f)
	}
	if f := node.opts[1].BuilderBoostFactor; f == nil || *f != 100 {
		t.Errorf("breaker closed: boost factor %v, want 100", f)
	}
	for state, want := range map[string]float64{"open": 1, "closed": 1} {
		if got := testutil.ToFloat64(s.m.breakerTrips.WithLabelValues(state)); got != want {
			t.Errorf("transitions to %s: %v, want %v", state, got, want)
		}
	}
	if got := testutil.ToFloat64(s.m.breakerOpen); got != 0 {
		t.Errorf("breaker open gauge %v after the reset", got)
	}
}

func TestNewRefusesNegativeBreaker(t *testing.T) {
	_, err := New(context.Background(), WithBeaconNode("http://127.0.0.1:1"), WithKeystores("k", "p"), WithDatabase("d"),
		WithBuilderCircuitBreaker(BreakerConfig{Consecutive: -1}))
	if err == nil || !strings.Contains(err.Error(), "circuit breaker") {
		t.Fatalf("negative threshold: %v", err)
	}
}

// Duty reports move the Lighthouse-named counters by status, slashing protection's refusals
// included; an epoch's summary figures count missed duties that never reported and late ones.
func TestMetricsReportsAndSummary(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newMetrics(reg); err == nil {
		t.Fatal("a second client's collectors on the same registry: no error")
	}
	m.report(Report{Kind: "attestation", Done: 5, Failed: 2, Err: fmt.Errorf("sign: %w", slashing.ErrSlashable)}, 0)
	m.report(Report{Kind: "attestation", Done: 1, Failed: 1, Err: errors.New("timeout"), Late: true}, 0)
	for status, want := range map[string]float64{"success": 6, "slashable": 2, "error": 1} {
		if got := testutil.ToFloat64(m.signed["attestation"].WithLabelValues(status)); got != want {
			t.Errorf("vc_signed_attestations_total{status=%q} = %v, want %v", status, got, want)
		}
	}
	if got := testutil.ToFloat64(m.refusals.WithLabelValues("attestation")); got != 2 {
		t.Errorf("refusals %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.late.WithLabelValues("attestation")); got != 1 {
		t.Errorf("late %v, want 1", got)
	}

	st := &epochStats{}
	st.setExpected(2, 10, 0)
	st.add(Report{Kind: "proposal", Done: 1, Path: "builder", Late: true})
	st.add(Report{Kind: "attestation", Done: 7, Failed: 1})
	f := st.figures()
	if f.done != 8 || f.missed != 1+3 || f.late != 1 || f.builder != 1 || f.local != 0 {
		t.Fatalf("figures %+v: want 8 done, 4 missed (a proposal and 3 attestations), 1 late", f)
	}
	m.summary(f)
	if got := testutil.ToFloat64(m.duties.WithLabelValues("attestation", "missed")); got != 3 {
		t.Errorf("attestations missed %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.blocks.WithLabelValues("builder")); got != 1 {
		t.Errorf("builder blocks %v, want 1", got)
	}
}
