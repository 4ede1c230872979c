package beacon_test

import (
	"context"
	"testing"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// runEpochs does every duty of every slot from 1 through the end of epoch last, then moves into
// the next epoch so the node processes the last one.
func runEpochs(t *testing.T, tn *testNet, last phase0.Epoch) {
	t.Helper()
	ctx := context.Background()
	spe := tn.node.Preset().SlotsPerEpoch
	end := phase0.Slot(uint64(last+1) * spe)
	for slot := phase0.Slot(1); slot < end; slot++ {
		tn.at(slot, 0.1)
		if _, err := tn.signer.Slot(ctx, slot); err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
	}
	tn.at(end, 0.1)
}

func finality(t *testing.T, tn *testNet) (justified, finalized phase0.Epoch) {
	t.Helper()
	resp, err := tn.client.Finality(context.Background(), &api.FinalityOpts{State: "head"})
	if err != nil {
		t.Fatalf("finality: %v", err)
	}
	return resp.Data.Justified.Epoch, resp.Data.Finalized.Epoch
}

// With every validator doing its duties for four epochs (epoch 0 to 3) the chain justifies epoch 2
// and 3 and finalizes epoch 2: Casper FFG finalizes an epoch when it and its successor are justified
// (process_justification_and_finalization, rule "bits[0:2]", applied first at the end of epoch 3).
func TestAllDutiesFinalize(t *testing.T) {
	tn := newTestNet(t, 32, nil)
	runEpochs(t, tn, 3)
	j, f := finality(t, tn)
	if j != 3 || f != 2 {
		t.Fatalf("after four epochs of full participation: justified %d finalized %d, want 3 and 2", j, f)
	}
}

// With a third of the validators silent, 2/3 of the stake is never reached: nothing is justified.
func TestThirdSilentDoesNotFinalize(t *testing.T) {
	tn := newTestNet(t, 30, nil)
	for i := 0; i < 11; i++ { // 11 of 30 silent: 19/30 < 2/3
		tn.signer.Silent[phase0.ValidatorIndex(i)] = true
	}
	runEpochs(t, tn, 3)
	j, f := finality(t, tn)
	if j != 0 || f != 0 {
		t.Fatalf("with 11 of 30 silent: justified %d finalized %d, want 0 and 0", j, f)
	}
}
