package bls

import bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"

// Message is a message already hashed to G2 (the ciphersuite's hash_to_curve with the POP DST),
// for signing one message under many keys: a validator client's attestations of one slot all
// sign the same signing root, and the hash is about half the cost of a signature. Messages are
// public, so a Message holds nothing secret. Safe for concurrent use once made.
type Message struct {
	h bls12381.G2Affine
}

// HashMessage hashes msg to G2 once.
func HashMessage(msg []byte) *Message {
	return &Message{h: hashToG2(msg)}
}

// SignMessage returns the signature of the hashed message under sk: the same signature as
// sk.Sign(msg), by the same side-channel hardened multiplication.
func (sk *SecretKey) SignMessage(m *Message) *Signature {
	return &Signature{p: g2MulSecret(&m.h, sk.s)}
}
