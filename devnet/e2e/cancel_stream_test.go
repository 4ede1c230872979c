package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// A cancellation that makes another builder's bid the top one publishes that bid on the
// top-bid stream: builder A outbids builder B, then lowers its bid below B's with
// ?cancellations=1; the stream carries A's bid, then B's again, and getHeader agrees.
func TestCancellationPublishesNewTop(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	d := startQUICDoor(t, h)
	c := d.client(t, d.peerID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, mev.TopBidTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	other := newBuilder(t, h.ctx, h) // builder B, a key of its own
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	post := func(bu *builder, value uint64, tag byte) *mev.Submission {
		t.Helper()
		s := bu.build(a, pk, feeRecipient(idx), value, tag)
		if code, msg := bu.post(s, pbs.MediaSSZ, "?cancellations=1", nil); code != http.StatusOK {
			t.Fatalf("submission of %d: %d %s", value, code, msg)
		}
		return s
	}
	sB := post(other, 2_000_000, 1)
	if got := nextTopBid(t, sub); got.Message.Header.BlockHash != sB.Payload.BlockHash {
		t.Fatal("B's first bid was not pushed")
	}
	sA := post(h.builder, 3_000_000, 2)
	if got := nextTopBid(t, sub); got.Message.Header.BlockHash != sA.Payload.BlockHash {
		t.Fatal("A's higher bid was not pushed")
	}
	// A cancels down to 1,000,000: B's 2,000,000 is the top again.
	post(h.builder, 1_000_000, 3)
	if got := nextTopBid(t, sub); got.Message.Header.BlockHash != sB.Payload.BlockHash || got.Message.Value.Uint64() != 2_000_000 {
		t.Fatalf("after A's cancellation the stream pushed %#x value %s, want B's bid %#x", got.Message.Header.BlockHash, got.Message.Value.Dec(), sB.Payload.BlockHash)
	}
	served, err := h.getHeader(1, a.ParentBlockHash, pk)
	if err != nil || served.Electra == nil || served.Electra.Message.Header.BlockHash != sB.Payload.BlockHash {
		t.Fatalf("getHeader after the cancellation: %v %v, want B's bid", served, err)
	}
}
