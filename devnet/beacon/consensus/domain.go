package consensus

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Domain types, consensus-specs phase0 beacon-chain.md "Domain types" (0x00-0x06), altair
// beacon-chain.md "Domain types" (0x07-0x09); Electra adds none. DomainApplicationBuilder is
// builder-specs' DOMAIN_APPLICATION_BUILDER, in the application space that phase0's
// DOMAIN_APPLICATION_MASK reserves; it is signed with the genesis fork version and a zero
// genesis validators root.
var (
	DomainBeaconProposer              = [4]byte{0x00, 0x00, 0x00, 0x00}
	DomainBeaconAttester              = [4]byte{0x01, 0x00, 0x00, 0x00}
	DomainRandao                      = [4]byte{0x02, 0x00, 0x00, 0x00}
	DomainDeposit                     = [4]byte{0x03, 0x00, 0x00, 0x00}
	DomainVoluntaryExit               = [4]byte{0x04, 0x00, 0x00, 0x00}
	DomainSelectionProof              = [4]byte{0x05, 0x00, 0x00, 0x00}
	DomainAggregateAndProof           = [4]byte{0x06, 0x00, 0x00, 0x00}
	DomainSyncCommittee               = [4]byte{0x07, 0x00, 0x00, 0x00}
	DomainSyncCommitteeSelectionProof = [4]byte{0x08, 0x00, 0x00, 0x00}
	DomainContributionAndProof        = [4]byte{0x09, 0x00, 0x00, 0x00}
	DomainApplicationMask             = [4]byte{0x00, 0x00, 0x00, 0x01}
	DomainApplicationBuilder          = [4]byte{0x00, 0x00, 0x00, 0x01}
)

// SpecConstants returns the domain types as GET /eth/v1/config/spec reports them (upper-case
// names, 0x-prefixed hex), to merge with Preset.Values and the network's configuration.
func SpecConstants() map[string]string {
	out := make(map[string]string, 12)
	for name, d := range map[string][4]byte{
		"DOMAIN_BEACON_PROPOSER":                DomainBeaconProposer,
		"DOMAIN_BEACON_ATTESTER":                DomainBeaconAttester,
		"DOMAIN_RANDAO":                         DomainRandao,
		"DOMAIN_DEPOSIT":                        DomainDeposit,
		"DOMAIN_VOLUNTARY_EXIT":                 DomainVoluntaryExit,
		"DOMAIN_SELECTION_PROOF":                DomainSelectionProof,
		"DOMAIN_AGGREGATE_AND_PROOF":            DomainAggregateAndProof,
		"DOMAIN_SYNC_COMMITTEE":                 DomainSyncCommittee,
		"DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF": DomainSyncCommitteeSelectionProof,
		"DOMAIN_CONTRIBUTION_AND_PROOF":         DomainContributionAndProof,
		"DOMAIN_APPLICATION_MASK":               DomainApplicationMask,
		"DOMAIN_APPLICATION_BUILDER":            DomainApplicationBuilder,
	} {
		out[name] = fmt.Sprintf("%#x", d[:])
	}
	return out
}

// hashPair is the SSZ merkleization of a container of two 32-byte fields: its root is
// sha256(field0 || field1).
func hashPair(a, b [32]byte) [32]byte {
	var buf [64]byte
	copy(buf[:32], a[:])
	copy(buf[32:], b[:])
	return sha256.Sum256(buf[:])
}

// uint64Root is hash_tree_root(uint64): the little-endian value padded to one 32-byte chunk.
func uint64Root(v uint64) [32]byte {
	var r [32]byte
	binary.LittleEndian.PutUint64(r[:8], v)
	return r
}

// ComputeForkDataRoot is phase0 compute_fork_data_root: hash_tree_root(ForkData(current_version,
// genesis_validators_root)), the Bytes4 version padded to a chunk.
func ComputeForkDataRoot(version [4]byte, genesisValidatorsRoot [32]byte) [32]byte {
	var v [32]byte
	copy(v[:4], version[:])
	return hashPair(v, genesisValidatorsRoot)
}

// ComputeDomain is phase0 compute_domain: domain_type + fork_data_root[:28]. Callers pass the
// fork version explicitly (the spec's default is GENESIS_FORK_VERSION, and for
// DomainApplicationBuilder the zero root with the genesis fork version is what builder-specs
// require).
func ComputeDomain(domainType [4]byte, forkVersion [4]byte, genesisValidatorsRoot [32]byte) [32]byte {
	fdr := ComputeForkDataRoot(forkVersion, genesisValidatorsRoot)
	var d [32]byte
	copy(d[:4], domainType[:])
	copy(d[4:], fdr[:28])
	return d
}

// SigningRoot is compute_signing_root: hash_tree_root(SigningData(object_root, domain)).
func SigningRoot(objectRoot [32]byte, domain [32]byte) [32]byte {
	return hashPair(objectRoot, domain)
}

// SigningRootOf hashes obj (any fastssz HashRoot, e.g. *phase0.AttestationData) first, then
// applies SigningRoot. A nil obj or one that cannot be hashed gives an error.
func SigningRootOf(obj interface{ HashTreeRoot() ([32]byte, error) }, domain [32]byte) ([32]byte, error) {
	if obj == nil {
		return [32]byte{}, fmt.Errorf("signing root: nil object")
	}
	root, err := obj.HashTreeRoot()
	if err != nil {
		return [32]byte{}, fmt.Errorf("signing root: hash tree root: %w", err)
	}
	return SigningRoot(root, domain), nil
}

// EpochRoot is hash_tree_root(uint64 epoch), the object a randao_reveal signs (phase0
// validator.md "Randao reveal": compute_signing_root(epoch, DOMAIN_RANDAO)).
func EpochRoot(epoch uint64) [32]byte { return uint64Root(epoch) }

// SlotRoot is hash_tree_root(uint64 slot), the object an attestation aggregator's selection
// proof signs (phase0 validator.md get_slot_signature, DOMAIN_SELECTION_PROOF).
func SlotRoot(slot uint64) [32]byte { return uint64Root(slot) }

// SyncAggregatorSelectionDataRoot is hash_tree_root(SyncAggregatorSelectionData(slot,
// subcommittee_index)), the object a sync-committee selection proof signs (altair validator.md
// get_sync_committee_selection_proof, DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF).
func SyncAggregatorSelectionDataRoot(slot, subcommitteeIndex uint64) [32]byte {
	return hashPair(uint64Root(slot), uint64Root(subcommitteeIndex))
}
