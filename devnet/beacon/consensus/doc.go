// Package consensus owns the consensus-specs functions the devnet beacon node needs; no state,
// no I/O.
//
// It follows ethereum/consensus-specs (phase0, altair and electra beacon-chain.md and
// validator.md) function by function, and each Go function names the spec function it
// implements: presets (Preset, Mainnet, Minimal), domains and signing roots
// (compute_fork_data_root, compute_domain, compute_signing_root), the swap-or-not shuffle
// (compute_shuffled_index and a whole-list Shuffle), seeds and committees (get_seed,
// get_committee_count_per_slot, get_beacon_committee), Electra's proposer and sync-committee
// sampling (compute_proposer_index, get_next_sync_committee_indices), aggregator selection
// (is_aggregator, is_sync_committee_aggregator), attestation subnets, Casper FFG
// (weigh_justification_and_finalization) and is_slashable_attestation_data.
//
// It does not own a BeaconState, fork choice, BLS (crypto/bls verifies signatures over the roots
// computed here) or anything with a clock. Inputs it cannot use give an error, never a panic.
package consensus
