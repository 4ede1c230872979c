package mev

import (
	"context"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// Under load the gate admits a waiting high-priority submission before low-priority ones that
// queued earlier; a waiter whose context ends leaves the queue without taking a slot.
func TestPriorityGate(t *testing.T) {
	g := newPriorityGate(1)
	ctx := context.Background()
	if err := g.acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	enqueue := func(name string, high bool, waiting int) {
		go func() {
			if err := g.acquire(ctx, high); err != nil {
				order <- "error " + err.Error()
				return
			}
			order <- name
		}()
		for g.waiting() != waiting {
			time.Sleep(time.Millisecond)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { gone <- g.acquire(cctx, true) }()
	for g.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gone; err == nil || g.waiting() != 0 {
		t.Fatalf("a cancelled waiter: %v, %d still waiting", err, g.waiting())
	}
	enqueue("low1", false, 1)
	enqueue("low2", false, 2)
	enqueue("high", true, 3)
	var got []string
	for range 3 {
		g.release()
		got = append(got, <-order)
	}
	if got[0] != "high" || got[1] != "low1" || got[2] != "low2" {
		t.Fatalf("admission order %v, want [high low1 low2]", got)
	}
	g.release()
	if g.free != 1 {
		t.Fatalf("%d free slots after every release, want 1", g.free)
	}
}

// Builder statuses and demotions survive a reopen; a demotion rewrites the status in the same
// transaction.
func TestBadgerStoreBuilderStatus(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, closeDB := openStore(t, dir)
	pk := phase0.BLSPubKey{7}
	s := &BuilderStatus{Pubkey: pk, HighPriority: true, Optimistic: true, Collateral: uint256.NewInt(5), BuilderID: "b"}
	if err := st.PutBuilderStatus(ctx, s); err != nil {
		t.Fatal(err)
	}
	demoted := *s
	demoted.Optimistic = false
	d := &Demotion{Builder: pk, Slot: 9, BlockHash: phase0.Hash32{1}, Reason: "late simulation", At: time.Unix(1_800_000_000, 0)}
	if err := st.Demote(ctx, d, &demoted); err != nil {
		t.Fatal(err)
	}
	closeDB()
	st, closeDB = openStore(t, dir)
	defer closeDB()
	var got []*BuilderStatus
	if err := st.BuilderStatuses(ctx, func(s *BuilderStatus) bool { got = append(got, s); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Pubkey != pk || got[0].Optimistic || !got[0].HighPriority || got[0].Collateral.Uint64() != 5 || got[0].BuilderID != "b" {
		t.Fatalf("statuses after reopen: %+v", got)
	}
	var ds []*Demotion
	if err := st.Demotions(ctx, func(d *Demotion) bool { ds = append(ds, d); return true }); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Slot != 9 || ds[0].Reason != d.Reason || !ds[0].At.Equal(d.At) {
		t.Fatalf("demotions after reopen: %+v", ds)
	}
	if ok, err := st.Served(ctx, 9, pk, phase0.Hash32{1}); ok || err != nil {
		t.Fatalf("served before PutServed: %v %v", ok, err)
	}
	if err := st.PutServed(ctx, 9, phase0.Hash32{2}, pk, phase0.Hash32{1}); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Served(ctx, 9, pk, phase0.Hash32{1}); !ok || err != nil {
		t.Fatalf("served after PutServed: %v %v", ok, err)
	}
	if ok, _ := st.Served(ctx, 9, phase0.BLSPubKey{8}, phase0.Hash32{1}); ok {
		t.Fatal("served to another proposer")
	}
}
