package consensus

import (
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

const eth = 1_000_000_000

func root(b byte) [32]byte { return [32]byte{b} }

// TestFFGThreshold: weigh_justification_and_finalization justifies with target*3 >= total*2, so
// exactly two thirds justifies and one gwei less does not, for the previous and the current epoch.
func TestFFGThreshold(t *testing.T) {
	const total = 3000 * eth
	for _, tc := range []struct {
		name               string
		prev, curr         uint64
		wantEpoch          uint64
		wantJustified      bool
		wantBit0, wantBit1 bool
	}{
		{"current exactly 2/3", 0, 2000 * eth, 5, true, true, false},
		{"current 1 gwei under", 0, 2000*eth - 1, 0, false, false, false},
		{"previous exactly 2/3", 2000 * eth, 0, 4, true, false, true},
		{"previous 1 gwei under", 2000*eth - 1, 0, 0, false, false, false},
		{"both", 2000 * eth, 3000 * eth, 5, true, true, true},
	} {
		var f FFG
		justified, finalized := f.Process(5, total, tc.prev, tc.curr, root(4), root(5))
		if justified != tc.wantJustified || finalized {
			t.Errorf("%s: justified=%v finalized=%v", tc.name, justified, finalized)
		}
		if f.CurrentJustified.Epoch != tc.wantEpoch || f.Bits[0] != tc.wantBit0 || f.Bits[1] != tc.wantBit1 {
			t.Errorf("%s: current justified %+v, bits %v", tc.name, f.CurrentJustified, f.Bits)
		}
		if tc.wantJustified && f.CurrentJustified.Root != root(byte(tc.wantEpoch)) {
			t.Errorf("%s: justified root %x", tc.name, f.CurrentJustified.Root)
		}
	}
	// The same edge with a total not divisible by three: 2/3 of 100.000000001 ETH is
	// 66.666666667333 ETH, so 66.666666668 justifies and 66.666666667 does not.
	var f FFG
	if j, _ := f.Process(3, 100*eth+1, 0, 66_666_666_668, root(2), root(3)); !j {
		t.Error("66.666666668 of 100.000000001 ETH did not justify")
	}
	f = FFG{}
	if j, _ := f.Process(3, 100*eth+1, 0, 66_666_666_667, root(2), root(3)); j {
		t.Error("66.666666667 of 100.000000001 ETH justified")
	}
	// get_total_active_balance is floored at EFFECTIVE_BALANCE_INCREMENT: no stake, no vote,
	// no justification.
	f = FFG{}
	if j, _ := f.Process(3, 0, 0, 0, root(2), root(3)); j {
		t.Error("zero of zero justified")
	}
}

// TestFFGNothingBeforeEpoch2: process_justification_and_finalization returns at once while
// current_epoch <= GENESIS_EPOCH + 1, even with every validator voting.
func TestFFGNothingBeforeEpoch2(t *testing.T) {
	var f FFG
	for epoch := uint64(0); epoch <= 1; epoch++ {
		j, fin := f.Process(epoch, 100*eth, 100*eth, 100*eth, root(1), root(2))
		if j || fin || f != (FFG{}) {
			t.Fatalf("epoch %d: justified=%v finalized=%v state %+v", epoch, j, fin, f)
		}
	}
	if j, _ := f.Process(2, 100*eth, 100*eth, 100*eth, root(1), root(2)); !j || f.CurrentJustified.Epoch != 2 {
		t.Fatalf("epoch 2: no justification, state %+v", f)
	}
}

// TestFFGFinalizationRules builds, for each of the four finalization rules, a state in which
// that rule and no other applies.
func TestFFGFinalizationRules(t *testing.T) {
	const total = 90 * eth
	full := uint64(total)
	for _, tc := range []struct {
		name          string
		before        FFG
		prev, curr    uint64
		wantFinalized Checkpoint
		wantBits      [4]bool
	}{
		{
			// 2nd/3rd/4th most recent epochs (9, 8, 7) justified, the 2nd using the 4th as source.
			name:          "bits 1-3, source 4th",
			before:        FFG{PreviousJustified: Checkpoint{7, root(7)}, CurrentJustified: Checkpoint{8, root(8)}, Bits: [4]bool{false, true, true, false}},
			prev:          full,
			wantFinalized: Checkpoint{7, root(7)},
			wantBits:      [4]bool{false, true, true, true},
		},
		{
			// 2nd/3rd most recent epochs (9, 8) justified, the 2nd using the 3rd as source.
			name:          "bits 1-2, source 3rd",
			before:        FFG{PreviousJustified: Checkpoint{8, root(8)}, CurrentJustified: Checkpoint{8, root(8)}, Bits: [4]bool{false, true, false, false}},
			prev:          full,
			wantFinalized: Checkpoint{8, root(8)},
			wantBits:      [4]bool{false, true, true, false},
		},
		{
			// 1st/2nd/3rd most recent epochs (10, 9, 8) justified, the 1st using the 3rd as source.
			name:          "bits 0-2, source 3rd",
			before:        FFG{PreviousJustified: Checkpoint{7, root(7)}, CurrentJustified: Checkpoint{8, root(8)}, Bits: [4]bool{false, true, false, false}},
			prev:          full,
			curr:          full,
			wantFinalized: Checkpoint{8, root(8)},
			wantBits:      [4]bool{true, true, true, false},
		},
		{
			// 1st/2nd most recent epochs (10, 9) justified, the 1st using the 2nd as source.
			name:          "bits 0-1, source 2nd",
			before:        FFG{PreviousJustified: Checkpoint{5, root(5)}, CurrentJustified: Checkpoint{9, root(9)}, Bits: [4]bool{true, false, false, false}},
			curr:          full,
			wantFinalized: Checkpoint{9, root(9)},
			wantBits:      [4]bool{true, true, false, false},
		},
	} {
		f := tc.before
		justified, finalized := f.Process(10, total, tc.prev, tc.curr, root(9), root(10))
		if !justified || !finalized {
			t.Errorf("%s: justified=%v finalized=%v", tc.name, justified, finalized)
		}
		if f.Finalized != tc.wantFinalized || f.Bits != tc.wantBits {
			t.Errorf("%s: finalized %+v bits %v, want %+v %v", tc.name, f.Finalized, f.Bits, tc.wantFinalized, tc.wantBits)
		}
		if f.PreviousJustified != tc.before.CurrentJustified {
			t.Errorf("%s: previous justified %+v, want the old current %+v", tc.name, f.PreviousJustified, tc.before.CurrentJustified)
		}
	}
	// Without the source in the right place no rule applies: the bits of rule 1 (epochs 9, 8
	// and 7 justified) with a previous justified checkpoint at 6 instead of 7.
	f := FFG{PreviousJustified: Checkpoint{6, root(6)}, CurrentJustified: Checkpoint{8, root(8)}, Bits: [4]bool{false, true, true, false}}
	if j, fin := f.Process(10, total, full, 0, root(9), root(10)); !j || fin || f.Bits != [4]bool{false, true, true, true} {
		t.Errorf("justified=%v finalized=%v (%+v) without a matching source", j, fin, f.Finalized)
	}
}

// TestFFGFullParticipation runs epochs with every validator voting from genesis: the first
// justification comes at the end of epoch 2, and from epoch 3 on each epoch finalizes the one
// before it (rule 4).
func TestFFGFullParticipation(t *testing.T) {
	var f FFG
	for epoch := uint64(0); epoch <= 8; epoch++ {
		_, fin := f.Process(epoch, 64*eth, 64*eth, 64*eth, root(byte(epoch-1)), root(byte(epoch)))
		switch {
		case epoch < 3:
			if fin || f.Finalized != (Checkpoint{}) {
				t.Fatalf("epoch %d finalized %+v", epoch, f.Finalized)
			}
		default:
			if !fin || f.Finalized != (Checkpoint{epoch - 1, root(byte(epoch - 1))}) {
				t.Fatalf("epoch %d: finalized %+v", epoch, f.Finalized)
			}
		}
		if epoch >= 2 && f.CurrentJustified.Epoch != epoch {
			t.Fatalf("epoch %d: justified %+v", epoch, f.CurrentJustified)
		}
	}
}

func att(slot, source, target uint64, blockRoot byte) phase0.AttestationData {
	return phase0.AttestationData{
		Slot:            phase0.Slot(slot),
		BeaconBlockRoot: phase0.Root{blockRoot},
		Source:          &phase0.Checkpoint{Epoch: phase0.Epoch(source), Root: phase0.Root{byte(source)}},
		Target:          &phase0.Checkpoint{Epoch: phase0.Epoch(target), Root: phase0.Root{byte(target)}},
	}
}

func TestIsSlashableAttestationData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   phase0.AttestationData
		ab, ba bool // is_slashable_attestation_data(a, b) and (b, a)
	}{
		{"double vote: other block, same target", att(64, 1, 2, 1), att(64, 1, 2, 2), true, true},
		{"double vote: other source, same target", att(64, 0, 2, 1), att(64, 1, 2, 1), true, true},
		{"double vote: other slot, same target", att(64, 1, 2, 1), att(65, 1, 2, 1), true, true},
		{"a surrounds b", att(160, 1, 5, 1), att(120, 2, 4, 1), true, false},
		{"b surrounds a", att(120, 2, 4, 1), att(160, 1, 5, 1), false, true},
		{"identical", att(64, 1, 2, 1), att(64, 1, 2, 1), false, false},
		{"consecutive", att(64, 1, 2, 1), att(96, 2, 3, 1), false, false},
		{"overlapping, not surrounding", att(96, 1, 3, 1), att(128, 2, 4, 1), false, false},
		{"same source, nested target", att(96, 1, 3, 1), att(128, 1, 4, 1), false, false},
		{"source equals other's target", att(96, 1, 3, 1), att(160, 3, 5, 1), false, false},
	} {
		if got := IsSlashableAttestationData(tc.a, tc.b); got != tc.ab {
			t.Errorf("%s: is_slashable(a, b) = %v, want %v", tc.name, got, tc.ab)
		}
		if got := IsSlashableAttestationData(tc.b, tc.a); got != tc.ba {
			t.Errorf("%s: is_slashable(b, a) = %v, want %v", tc.name, got, tc.ba)
		}
		if got := AreSlashable(tc.a, tc.b); got != (tc.ab || tc.ba) {
			t.Errorf("%s: AreSlashable = %v", tc.name, got)
		}
	}
	// Missing checkpoints count as zero and do not panic.
	if IsSlashableAttestationData(phase0.AttestationData{}, phase0.AttestationData{}) {
		t.Error("two empty attestations are slashable")
	}
	if !IsSlashableAttestationData(phase0.AttestationData{Slot: 1}, phase0.AttestationData{}) {
		t.Error("two different attestations with target epoch 0 are not a double vote")
	}
}
