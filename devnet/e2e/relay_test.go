package e2e

import (
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/pbs"
)

// The blinded flow through the devnet node: validators register with the node, which forwards
// to the relay; a builder submits a bid on the slot's payload attributes; the node asks the
// relay for the header (go-builder-client), the proposer signs the blinded block, the node
// unblinds through the relay and imports the block.
func TestBlindedFlowThroughNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	h := newHarness(t)
	h.registerThroughNode()
	for slot := phase0.Slot(1); slot <= 3; slot++ {
		a := h.at(slot, 0)
		idx, pk := h.proposer(slot)
		s := h.builder.build(a, pk, feeRecipient(idx), 1_000_000_000+uint64(slot), byte(slot))
		if code, msg := h.builder.post(s, pbs.MediaSSZ, "", nil); code != 200 {
			t.Fatalf("slot %d: submission: %d %s", slot, code, msg)
		}
		proposed, blinded, err := h.signer.Propose(h.ctx, slot)
		if err != nil || !proposed || !blinded {
			t.Fatalf("slot %d: propose: proposed %v blinded %v err %v", slot, proposed, blinded, err)
		}
		if got := h.headSlot(); got != slot {
			t.Fatalf("slot %d: head at slot %d", slot, got)
		}
		h.builder.imported(s)
	}
}
