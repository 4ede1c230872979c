package prover

import (
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// IdentityDST is the domain separation tag of the ZK identity derivation.
const IdentityDST = "ZKV-ZK-IDENTITY-V1"

// DeriveSecret derives a validator's ZK identity secret s from its BLS secret key, given as the
// key's 32-byte big-endian scalar (the EIP-2335 keystore content):
//
//	s = hash_to_field(sk, count = 1) with expand_message_xmd(SHA-256), L = 48 bytes and
//	DST = "ZKV-ZK-IDENTITY-V1" (RFC 9380, section 5), reduced modulo the BN254 scalar order.
//
// The derivation is one-way and domain-separated, so s reveals nothing about the BLS key, and
// a lost s is recovered from the keystore alone.
func DeriveSecret(blsSecret [32]byte) fr.Element {
	e, err := fr.Hash(blsSecret[:], []byte(IdentityDST), 1)
	if err != nil {
		panic(err) // fr.Hash fails only for count or DST lengths out of range, fixed here
	}
	return e[0]
}

// SecretFromBLS is DeriveSecret applied to a BLS secret key.
func SecretFromBLS(sk *bls.SecretKey) fr.Element {
	return DeriveSecret(sk.Bytes())
}
