// Package bls implements BLS signatures in the Ethereum consensus ciphersuite
// BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_ (IETF draft-irtf-cfrg-bls-signature-05, proof of
// possession scheme) on gnark-crypto's BLS12-381: public keys in G1 (48 bytes compressed),
// signatures in G2 (96 bytes compressed).
//
// What it owns: keys, signing, verification, aggregation and batch verification, the byte
// encodings, and the guards that gnark-crypto leaves to its callers:
//
//   - Decoding takes exactly the encoded length (gnark-crypto's SetBytes reads a prefix of a longer
//     buffer), and every decoded point is subgroup-checked.
//   - The point at infinity is refused as a public key (KeyValidate) and a signature at infinity
//     never verifies. gnark-crypto's MillerLoop silently skips pairs with a point at infinity, which
//     would turn e(0, H(m)) * e(-g1, 0) into an accepted empty product; every pairing here is built
//     only from points checked not to be at infinity.
//   - Empty key or signature lists are invalid (aggregation of nothing is an error, verification
//     over nothing is false).
//   - Batch verification uses independent random non-zero 64-bit scalars from crypto/rand per
//     signature set; plain aggregation of a batch accepts forged sets whose errors cancel out.
//
// Signing is side-channel hardened: gnark-crypto's scalar multiplications branch on the scalar's
// digits, so Sign does not use them. It computes [sk]H(m) with its own fixed-pattern method: the
// scalar is blinded as sk + k*r with a fresh random 62-bit k (r the group order), split along the
// psi endomorphism (psi(P) = [z]P on G2, z the BLS parameter) into five 64-bit digits, each recoded
// into odd signed 4-bit windows so that every window adds a table point selected by a full table
// scan with constant-time moves, and no addition ever meets the point at infinity. The sequence of
// group operations is the same for every key and message; only field arithmetic remains, which is
// gnark-crypto's branch-free Montgomery multiplication on amd64 and arm64. Secret keys never
// appear in logs, errors or fmt output (String and GoString print "redacted").
//
// Verification and batch verification are the hot path of a validator client. The Verifier type
// takes signature sets one at a time (a stream) or as a slice, groups them by message so that all
// signatures over one attestation share one hash-to-G2 and one Miller-loop pair, spreads hashing
// and the multi-Miller loop over the available cores, and finishes with one final
// exponentiation. When a batch fails it bisects to name the bad sets, so one bad signature does
// not discard the others.
//
// What it does not own: signing roots and domains (the validator's signer computes the 32-byte
// message), key storage (validator/keys), and slashing protection.
package bls
