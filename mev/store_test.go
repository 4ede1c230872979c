package mev

import (
	"context"
	"errors"
	"testing"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
)

func openStore(t *testing.T, dir string) (*BadgerStore, func()) {
	t.Helper()
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return NewBadgerStore(d), func() {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Bids, payloads, deliveries and registrations survive a reopen; a slot takes one delivery.
func TestBadgerStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, closeDB := openStore(t, dir)
	s := testSubmission(spec.DataVersionFulu, 1)
	rec := &BidRecord{Version: s.Version, Trace: s.Trace, BlockNumber: 3, NumTx: 1, ReceivedAt: time.UnixMilli(1_800_000_000_123)}
	if err := st.PutBid(ctx, rec, &Payload{Version: s.Version, Bundle: bundleOf(s.Payload, s.Bundle)}); err != nil {
		t.Fatal(err)
	}
	d1 := &Delivery{Slot: 5, BlockHash: s.Trace.BlockHash, BlindedRoot: phase0.Root{1}, Trace: s.Trace}
	if got, fresh, err := st.Deliver(ctx, d1); err != nil || !fresh || got.BlindedRoot != d1.BlindedRoot {
		t.Fatalf("first delivery: %v %v %v", got, fresh, err)
	}
	reg := &builderapiv1.SignedValidatorRegistration{Message: &builderapiv1.ValidatorRegistration{
		FeeRecipient: bellatrix.ExecutionAddress{1}, GasLimit: 1, Timestamp: time.Unix(5, 0), Pubkey: phase0.BLSPubKey{2}}}
	if err := st.PutRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	closeDB()

	st, closeDB = openStore(t, dir)
	defer closeDB()
	got, p, err := st.Payload(ctx, 5, s.Trace.BlockHash)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Bundle.ExecutionPayload.HashTreeRoot()
	b, _ := s.Payload.HashTreeRoot()
	if a != b || p.Version != spec.DataVersionFulu || !got.ReceivedAt.Equal(rec.ReceivedAt) || got.Trace.Value.Uint64() != 10 || len(p.Bundle.BlobsBundle.Blobs) != 1 {
		t.Fatal("payload or record changed in the store")
	}
	if _, _, err := st.Payload(ctx, 6, s.Trace.BlockHash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another slot: %v", err)
	}
	d2 := &Delivery{Slot: 5, BlockHash: s.Trace.BlockHash, BlindedRoot: phase0.Root{2}, Trace: s.Trace}
	if kept, fresh, err := st.Deliver(ctx, d2); err != nil || fresh || kept.BlindedRoot != d1.BlindedRoot {
		t.Fatalf("second delivery after reopen: %v %v %v", kept, fresh, err)
	}
	n := 0
	slot := phase0.Slot(5)
	_ = st.Bids(ctx, &slot, func(*BidRecord) bool { n++; return true })
	other := phase0.Slot(4)
	_ = st.Bids(ctx, &other, func(*BidRecord) bool { n += 100; return true })
	if n != 1 {
		t.Fatalf("bids by slot: %d", n)
	}
	regs := 0
	_ = st.Registrations(ctx, func(r *builderapiv1.SignedValidatorRegistration) bool {
		regs++
		return r.Message.Pubkey == reg.Message.Pubkey
	})
	if regs != 1 {
		t.Fatalf("%d registrations", regs)
	}
}

// BenchmarkPutBid350KB: one write of a bid and its 350 KB payload, durable (synced, as the
// relay runs) and in memory (what the write costs without the disk).
func BenchmarkPutBid350KB(b *testing.B) {
	b.Run("synced", func(b *testing.B) { benchPutBid(b, db.Config{Dir: b.TempDir()}) })
	b.Run("memory", func(b *testing.B) { benchPutBid(b, db.Config{InMemory: true}) })
}

func benchPutBid(b *testing.B, cfg db.Config) {
	d, err := db.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	st := NewBadgerStore(d)
	s := testSubmission(spec.DataVersionElectra, 0)
	for i := 0; i < 100; i++ {
		s.Payload.Transactions = append(s.Payload.Transactions, make([]byte, 3500))
	}
	rec := &BidRecord{Version: s.Version, Trace: s.Trace}
	p := &Payload{Version: s.Version, Bundle: bundleOf(s.Payload, s.Bundle)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Trace.Slot = uint64(i)
		if err := st.PutBid(context.Background(), rec, p); err != nil {
			b.Fatal(err)
		}
	}
}
