// Package signer computes what a validator signs and signs it: the domains and signing roots of
// every message of the consensus specs' honest validator guide (blocks, RANDAO reveals,
// attestations, aggregation selection proofs, aggregates, sync-committee messages, selection data
// and contributions, voluntary exits) and of the builder API (validator registrations), under the
// network's fork schedule; and a Signer that holds the decrypted keys and signs blocks and
// attestations only after package validator/slashing has approved them and made its record
// durable.
//
// It does not fetch duties, talk to a beacon node, or decide when to sign (package
// validator/client does), and it does not decide what is slashable (validator/slashing does).
//
// Rules (consensus-specs phase0 beacon-chain.md "compute_domain", "compute_signing_root",
// altair validator.md, EIP-7044, builder-specs "Signing"):
//
//   - domain = domain_type | fork_data_root(fork_version, genesis_validators_root)[:28], with the
//     fork version in force at the message's epoch (the epoch of its slot, or the attestation's
//     target epoch).
//   - signing_root = hash_tree_root(SigningData(object_root, domain)).
//   - Voluntary exits use the Capella fork version whatever the current fork (EIP-7044, Deneb on).
//   - Builder registrations use DOMAIN_APPLICATION_BUILDER with the genesis fork version and a
//     zero genesis validators root, so they are valid on every fork.
package signer
