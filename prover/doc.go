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
// The statement (see Circuit): a prover knows a secret s, a weight and a path in the 4-ary
// registry tree such that
//
//	id   = H(TAG_ID, s)
//	leaf = H(TAG_LEAF, id, weight) is at the path's index under root
//	a1   = H(TAG_A1, s, epoch)
//	y    = s + a1·x          (x = MessageX(signing root))
//	nullifier = H(TAG_N, a1)
//	weight >= minWeight
//
// with public inputs (root, epoch, x, y, nullifier, minWeight). Two proofs of one validator in
// one epoch share a1 and the nullifier, so two different x reveal s (see Equivocation).
//
// Hashes are gnark's Poseidon2 instances (see hash.go): they agree between gnark and
// gnark-crypto only, not with circom's Poseidon or other Poseidon2 parameter sets.
//
// Keys from LoadKeys come from a single-party setup and are for devnets only (DevnetWarning).
package prover
