package pool

import (
	"context"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover/registry"
)

func TestClockEpoch(t *testing.T) {
	g := time.Unix(1_000_000, 0)
	c := Clock{Genesis: g, SlotDuration: 12 * time.Second, SlotsPerEpoch: 32}
	for _, tc := range []struct {
		at    time.Time
		epoch uint64
		ok    bool
	}{
		{g.Add(-time.Second), 0, false},
		{g, 0, true},
		{g.Add(383 * time.Second), 0, true},
		{g.Add(384 * time.Second), 1, true},
		{g.Add(10*384*time.Second + 5), 10, true},
	} {
		if e, ok := c.Epoch(tc.at); e != tc.epoch || ok != tc.ok {
			t.Errorf("%v: %d %v, want %d %v", tc.at.Sub(g), e, ok, tc.epoch, tc.ok)
		}
	}
}

// TestRunSealsByClock: with a clock, Run seals the current epoch's root by itself.
func TestRunSealsByClock(t *testing.T) {
	m := mustMaterial(t)
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	reg, err := registry.Open(d.KV(db.Registrations), registry.Config{Depth: testDepth, Network: testNetwork})
	if err != nil {
		t.Fatal(err)
	}
	// Genesis 7.5 epochs of 8 one-second slots ago: the clock is in epoch 7.
	clock := &Clock{Genesis: time.Now().Add(-60 * time.Second), SlotDuration: time.Second, SlotsPerEpoch: 8}
	srv, err := New(Config{Key: m.keys.VerifyingKey(), Registry: reg, DB: d, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for {
		if s, ok := reg.LastSeal(); ok {
			if want, _ := clock.Epoch(time.Now()); s.Epoch != want && s.Epoch+1 != want {
				t.Fatalf("sealed epoch %d, the clock says %d", s.Epoch, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no seal")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
