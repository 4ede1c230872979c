package consensus

import (
	"math/bits"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// genesisEpoch is GENESIS_EPOCH.
const genesisEpoch = 0

// Checkpoint is phase0's Checkpoint (epoch, root).
type Checkpoint struct {
	Epoch uint64
	Root  [32]byte
}

// FFG is the Casper FFG part of a BeaconState: previous_justified_checkpoint,
// current_justified_checkpoint, finalized_checkpoint and justification_bits (Bits[0] is the
// current epoch). The zero value is the genesis state.
type FFG struct {
	PreviousJustified, CurrentJustified, Finalized Checkpoint
	Bits                                           [4]bool
}

// Process runs at the end of currentEpoch as phase0 process_justification_and_finalization
// does: nothing while currentEpoch <= GENESIS_EPOCH + 1 (the zero stub roots of genesis must not
// be justified), then weigh_justification_and_finalization. totalActive is
// get_total_active_balance (floored at EFFECTIVE_BALANCE_INCREMENT = 10**9 gwei, as the spec
// does); prevTarget/currTarget are the summed effective balances of unslashed validators whose
// attestation matched the target of the previous/current epoch; prevRoot/currRoot are
// get_block_root of those epochs. It returns whether the current justified checkpoint and the
// finalized checkpoint changed, so the node can emit events.
func (f *FFG) Process(currentEpoch, totalActive, prevTarget, currTarget uint64, prevRoot, currRoot [32]byte) (justified, finalized bool) {
	if currentEpoch <= genesisEpoch+1 {
		return false, false
	}
	const effectiveBalanceIncrement = 1_000_000_000
	totalActive = max(totalActive, effectiveBalanceIncrement)
	previousEpoch := currentEpoch - 1
	oldPrevious, oldCurrent, oldFinalized := f.PreviousJustified, f.CurrentJustified, f.Finalized

	// Process justifications.
	f.PreviousJustified = f.CurrentJustified
	f.Bits = [4]bool{false, f.Bits[0], f.Bits[1], f.Bits[2]}
	if supermajority(prevTarget, totalActive) {
		f.CurrentJustified = Checkpoint{Epoch: previousEpoch, Root: prevRoot}
		f.Bits[1] = true
	}
	if supermajority(currTarget, totalActive) {
		f.CurrentJustified = Checkpoint{Epoch: currentEpoch, Root: currRoot}
		f.Bits[0] = true
	}

	// Process finalizations.
	b := f.Bits
	// The 2nd/3rd/4th most recent epochs are justified, the 2nd using the 4th as source.
	if b[1] && b[2] && b[3] && oldPrevious.Epoch+3 == currentEpoch {
		f.Finalized = oldPrevious
	}
	// The 2nd/3rd most recent epochs are justified, the 2nd using the 3rd as source.
	if b[1] && b[2] && oldPrevious.Epoch+2 == currentEpoch {
		f.Finalized = oldPrevious
	}
	// The 1st/2nd/3rd most recent epochs are justified, the 1st using the 3rd as source.
	if b[0] && b[1] && b[2] && oldCurrent.Epoch+2 == currentEpoch {
		f.Finalized = oldCurrent
	}
	// The 1st/2nd most recent epochs are justified, the 1st using the 2nd as source.
	if b[0] && b[1] && oldCurrent.Epoch+1 == currentEpoch {
		f.Finalized = oldCurrent
	}
	return f.CurrentJustified != oldCurrent, f.Finalized != oldFinalized
}

// supermajority is target * 3 >= total * 2, computed in 128 bits so that no balance can wrap.
func supermajority(target, total uint64) bool {
	th, tl := bits.Mul64(target, 3)
	ah, al := bits.Mul64(total, 2)
	return th > ah || (th == ah && tl >= al)
}

// IsSlashableAttestationData is phase0 is_slashable_attestation_data over go-eth2-client's
// phase0.AttestationData: a double vote (different data, same target epoch) or a surround vote
// (a's source before b's and b's target before a's). Only a surround of b by a is detected, as in
// the spec; call it both ways to catch either order. A nil Source or Target counts as the zero
// checkpoint.
func IsSlashableAttestationData(a, b phase0.AttestationData) bool {
	as, at := checkpointOf(a.Source), checkpointOf(a.Target)
	bs, bt := checkpointOf(b.Source), checkpointOf(b.Target)
	equal := a.Slot == b.Slot && a.Index == b.Index && a.BeaconBlockRoot == b.BeaconBlockRoot && as == bs && at == bt
	doubleVote := !equal && at.Epoch == bt.Epoch
	surround := as.Epoch < bs.Epoch && bt.Epoch < at.Epoch
	return doubleVote || surround
}

func checkpointOf(c *phase0.Checkpoint) Checkpoint {
	if c == nil {
		return Checkpoint{}
	}
	return Checkpoint{Epoch: uint64(c.Epoch), Root: c.Root}
}

// AreSlashable reports whether two attestations by one validator are slashable in either order:
// is_slashable_attestation_data(a, b) or is_slashable_attestation_data(b, a). A node checking a
// new attestation against an old one does not know which one surrounds the other.
func AreSlashable(a, b phase0.AttestationData) bool {
	return IsSlashableAttestationData(a, b) || IsSlashableAttestationData(b, a)
}
