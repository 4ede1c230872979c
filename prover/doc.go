// Package prover owns zkv's private attestation proofs: the Groth16 circuit over BN254, its
// Poseidon2 hashes, the validator identity derivation, key setup and caching, proving (one
// proof or many, on every core), verification (one proof, or batches by random linear
// combination with bisection to find bad proofs), equivocation evidence, and export of the
// verifying key and proofs for Solidity and snarkjs. The registry tree and registrations live
// in the registry subpackage.
//
// It does not talk to the network, store nullifiers, or know about the beacon chain beyond
// the signing root it is handed.
//
// # Statement
//
// A prover knows a secret s, a weight and a path in the registry tree such that
//
//	id        = H(TAG_ID, s)
//	leaf      = H(TAG_LEAF, id, weight) is at the path's index under root
//	a1        = H(TAG_A1, s, epoch + 2^64·network)
//	y         = s + a1·x          (x = MessageX(signing root))
//	nullifier = H(TAG_N, a1)
//	weight   >= minWeight,  epoch < 2^64,  minWeight < 2^64
//
// with public inputs (root, epoch, x, y, nullifier, minWeight, network), in that order;
// network is Network.ID, cut from the chain's genesis fork version and genesis validators
// root. Two proofs of one validator in one epoch of one network share a1 and the nullifier,
// so two different x reveal s (see Evidence); the same key on two networks has unrelated
// nullifiers.
//
// # Verifying
//
// The pairing check (VerifyingKey.VerifyPairing, BatchVerifyPairing) says only that some
// statement was proved. Verifier checks a proof as an attestation: the network, the
// registry's sealed root of the proof's epoch, the x of the attestation's signing root and
// a minimum weight; evidence is checked the same way.
//
// # Hashes and tree
//
// Hashes are gnark's Poseidon2 instances (see hash.go): they agree between gnark and
// gnark-crypto only, not with circom's Poseidon or other Poseidon2 parameter sets.
//
// The registry tree is 4-ary: one width-4 Poseidon2 permutation (264 constraints) hashes a
// node of four children, where a binary tree needs two width-2 permutations (372) for the
// same two index bits. At depth 20 that keeps the circuit at 4,045 constraints, under the
// 4,096 that fix the FFT domain, the largest MSM of the prover and the proving key's size; a
// binary tree needs 4,945 and a domain of 8,192. A depth is therefore even (2 to 32).
//
// # Proving
//
// Prover computes proofs distributed as gnark's groth16.Prove's (gnark's verifier accepts
// them) for throughput: it rerandomizes a proof made without randomizers, which spares the
// G1 sum of B that gnark's randomizers need; it runs one proof per core instead of one proof
// spread over every core; the MSMs over the proving key's bases run on precomputed fixed-base
// tables with batched affine additions; and the wire-dependent sums are cached per validator
// by wire group, so the proof of the next epoch recomputes only the epoch's values and the
// tree levels that changed; a validator seen for the first time takes the tree levels it
// shares with validators under the same node from their proofs (the first epoch after a
// restart without a persisted cache).
// ProveStock runs gnark's prover for comparison.
//
// # Keys
//
// Keys that LoadKeys makes come from a single-party setup and are for devnets only
// (DevnetWarning). Production keys come from a multi-party ceremony (InitCeremony,
// ContributeCeremony, VerifyCeremony, FinalizeCeremony: gnark's mpcsetup with a chained,
// hashed transcript), whose keys LoadKeys and LoadIdentityKeys read from the same cache with
// Origin().Ceremony set.
package prover
