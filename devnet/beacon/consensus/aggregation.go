package consensus

import (
	"crypto/sha256"
	"encoding/binary"
)

// IsAggregator is phase0 validator.md is_aggregator for a committee of committeeLen members:
// bytes_to_uint64(hash(slot_signature)[0:8]) % max(1, len(committee) //
// TARGET_AGGREGATORS_PER_COMMITTEE) == 0.
func IsAggregator(committeeLen uint64, slotSignature [96]byte, p Preset) bool {
	modulo := uint64(1)
	if p.TargetAggregatorsPerCommittee > 0 {
		modulo = max(1, committeeLen/p.TargetAggregatorsPerCommittee)
	}
	return signatureValue(slotSignature)%modulo == 0
}

// IsSyncCommitteeAggregator is altair validator.md is_sync_committee_aggregator:
// bytes_to_uint64(hash(signature)[0:8]) % max(1, SYNC_COMMITTEE_SIZE //
// SYNC_COMMITTEE_SUBNET_COUNT // TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE) == 0.
func IsSyncCommitteeAggregator(signature [96]byte, p Preset) bool {
	modulo := uint64(1)
	if p.SyncCommitteeSubnetCount > 0 && p.TargetAggregatorsPerSyncSubcommittee > 0 {
		modulo = max(1, p.SyncCommitteeSize/p.SyncCommitteeSubnetCount/p.TargetAggregatorsPerSyncSubcommittee)
	}
	return signatureValue(signature)%modulo == 0
}

func signatureValue(sig [96]byte) uint64 {
	h := sha256.Sum256(sig[:])
	return binary.LittleEndian.Uint64(h[:8])
}

// ComputeSubnetForAttestation is phase0 validator.md compute_subnet_for_attestation:
// (committees_per_slot * (slot % SLOTS_PER_EPOCH) + committee_index) % ATTESTATION_SUBNET_COUNT.
func ComputeSubnetForAttestation(committeesPerSlot, slot, committeeIndex uint64, p Preset) uint64 {
	if p.SlotsPerEpoch == 0 || p.AttestationSubnetCount == 0 {
		return 0
	}
	return (committeesPerSlot*(slot%p.SlotsPerEpoch) + committeeIndex) % p.AttestationSubnetCount
}

// SyncSubcommitteeIndex is the sync subcommittee (and gossip subnet) of the member at position
// in the sync committee, as altair validator.md compute_subnets_for_sync_committee computes it:
// position // (SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT). ok is false for a position
// outside the committee.
func SyncSubcommitteeIndex(position uint64, p Preset) (subcommittee uint64, ok bool) {
	if p.SyncCommitteeSubnetCount == 0 || position >= p.SyncCommitteeSize {
		return 0, false
	}
	size := p.SyncCommitteeSize / p.SyncCommitteeSubnetCount
	if size == 0 {
		return 0, false
	}
	return position / size, true
}
