package mev

import (
	"testing"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

func TestAuctionRules(t *testing.T) {
	seq := uint64(0)
	mk := func(builder byte, value uint64) *bid {
		seq++
		return &bid{seq: seq, value: uint256.NewInt(value), rec: &BidRecord{Trace: &builderapiv1.BidTrace{BuilderPubkey: phase0.BLSPubKey{builder}}}}
	}
	a := newAuction()
	steps := []struct {
		b           *bid
		cancellable bool
		top         uint64
		topBuilder  byte
	}{
		{mk(1, 10), true, 10, 1},
		{mk(2, 10), true, 10, 1}, // a tie keeps the earlier bid
		{mk(1, 5), true, 10, 2},  // builder 1 cancels down: builder 2's 10 is top
		{mk(2, 3), true, 5, 1},   // builder 2 cancels down too
		{mk(3, 4), false, 5, 1},  // a floor of 4
		{mk(3, 2), true, 5, 1},   // builder 3 cannot withdraw below its floor...
		{mk(1, 1), true, 4, 3},   // ...which stays when the others cancel
	}
	for i, s := range steps {
		a.add(s.b, s.cancellable)
		if a.top.value.Uint64() != s.top || a.top.rec.Trace.BuilderPubkey[0] != s.topBuilder {
			t.Fatalf("step %d: top %d from builder %d, want %d from %d", i, a.top.value.Uint64(), a.top.rec.Trace.BuilderPubkey[0], s.top, s.topBuilder)
		}
	}
	if a.floorValue().Uint64() != 4 {
		t.Fatalf("floor %v", a.floorValue())
	}
}
