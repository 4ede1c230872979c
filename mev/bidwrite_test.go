package mev

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/pbs"
)

// writeBehindRelay is a Relay with only what the bid writer and GetHeader use, on a real
// badger store; its writer does not run unless the test starts writeBids.
func writeBehindRelay(t *testing.T, queue int) (*Relay, *BadgerStore) {
	t.Helper()
	d, err := db.Open(db.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	st := NewBadgerStore(d)
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	sk := testKey(t)
	r := &Relay{cfg: Config{Store: st, SecretKey: sk}, log: slog.New(slog.DiscardHandler), m: m,
		pubkey:   phase0.BLSPubKey(sk.PublicKey().Bytes()),
		auctions: map[auctionKey]*auction{}, delivered: map[phase0.Slot]*Delivery{},
		writes: make(chan *bid, queue), pending: map[*bid]struct{}{}}
	return r, st
}

func testBid(slot uint64, tag byte) *bid {
	s := testSubmission(spec.DataVersionElectra, 1)
	s.Trace.Slot = slot
	s.Trace.BlockHash = phase0.Hash32{tag}
	s.Payload.BlockHash = s.Trace.BlockHash
	h, _ := pbs.HeaderOf(s.Payload)
	return &bid{version: s.Version, rec: &BidRecord{Version: s.Version, Trace: s.Trace}, header: h,
		requests: s.Requests, value: s.Trace.Value, payload: &Payload{Version: s.Version, Bundle: bundleOf(s.Payload, s.Bundle)}}
}

func stored(t *testing.T, st *BadgerStore, b *bid) bool {
	t.Helper()
	_, _, err := st.Payload(context.Background(), phase0.Slot(b.rec.Trace.Slot), b.rec.Trace.BlockHash)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// A queued bid is not in the Store until its header is served; GetHeader writes it first.
func TestGetHeaderStoresQueuedBid(t *testing.T) {
	r, st := writeBehindRelay(t, 4)
	ctx := context.Background()
	b := testBid(3, 7)
	if err := r.queueBid(ctx, b); err != nil {
		t.Fatal(err)
	}
	if stored(t, st, b) {
		t.Fatal("a queued bid is in the store before any writer ran: the write is not behind")
	}
	key := auctionKey{slot: 3, parent: b.header.ParentHash, proposer: b.rec.Trace.ProposerPubkey}
	au := newAuction()
	au.add(b, true)
	r.auctions[key] = au
	if _, err := r.GetHeader(ctx, key.slot, key.parent, key.proposer); err != nil {
		t.Fatal(err)
	}
	if !stored(t, st, b) {
		t.Fatal("header served before its payload was in the store")
	}
	if len(r.pending) != 0 {
		t.Fatalf("%d bids still pending after the header", len(r.pending))
	}
}

// A full queue makes the submitter write; the writer drains the queue when its context ends;
// storePending writes what the writer has not reached.
func TestBidWriter(t *testing.T) {
	ctx := context.Background()
	r, st := writeBehindRelay(t, 1)
	first, second := testBid(1, 1), testBid(1, 2)
	if err := r.queueBid(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := r.queueBid(ctx, second); err != nil { // queue full: written here
		t.Fatal(err)
	}
	if stored(t, st, first) || !stored(t, st, second) {
		t.Fatal("want the queued bid pending and the overflowing one written")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r.writeBids(cctx)
	if !stored(t, st, first) {
		t.Fatal("the writer stopped without writing its queue")
	}

	r, st = writeBehindRelay(t, 4)
	third := testBid(2, 3)
	if err := r.queueBid(ctx, third); err != nil {
		t.Fatal(err)
	}
	if err := r.storePending(ctx); err != nil {
		t.Fatal(err)
	}
	if !stored(t, st, third) || len(r.pending) != 0 {
		t.Fatal("storePending left a bid unwritten")
	}
	if err := third.store(ctx, st, r.m); err != nil { // written once; again is a no-op
		t.Fatal(err)
	}
}
