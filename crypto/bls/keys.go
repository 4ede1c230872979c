package bls

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// Encoded lengths in bytes.
const (
	SecretKeyLength = 32
	PublicKeyLength = bls12381.SizeOfG1AffineCompressed // 48
	SignatureLength = bls12381.SizeOfG2AffineCompressed // 96
)

// Errors callers may branch on. Decoding errors wrap one of these with the reason.
var (
	ErrInvalidSecretKey = errors.New("bls: invalid secret key")
	ErrInvalidPublicKey = errors.New("bls: invalid public key")
	ErrInvalidSignature = errors.New("bls: invalid signature")
	ErrEmpty            = errors.New("bls: empty input")
)

// DST is the hash-to-curve domain separation tag of the Ethereum proof-of-possession ciphersuite.
var DST = []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")

// SecretKey is a BLS secret key: a non-zero scalar modulo the group order r. Its value never
// appears in fmt output.
type SecretKey struct {
	// Behind a pointer so that fmt, which cannot call Format on a SecretKey held in another
	// type's unexported field, prints an address there rather than the scalar's limbs.
	s *fr.Element
}

// GenerateSecretKey returns a uniformly random non-zero secret key from crypto/rand.
func GenerateSecretKey() (*SecretKey, error) {
	for {
		var b [64]byte // 512 bits reduced mod r: bias below 2^-256
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("bls: read randomness: %w", err)
		}
		sk := SecretKey{s: new(fr.Element)}
		sk.s.SetBytes(b[:])
		if !sk.s.IsZero() {
			return &sk, nil
		}
	}
}

// SecretKeyFromBytes decodes a 32-byte big-endian secret key. It refuses other lengths, zero,
// and values not below the group order.
func SecretKeyFromBytes(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeyLength {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSecretKey, len(b), SecretKeyLength)
	}
	sk := SecretKey{s: new(fr.Element)}
	if err := sk.s.SetBytesCanonical(b); err != nil {
		return nil, fmt.Errorf("%w: not below the group order", ErrInvalidSecretKey)
	}
	if sk.s.IsZero() {
		return nil, fmt.Errorf("%w: zero", ErrInvalidSecretKey)
	}
	return &sk, nil
}

// SecretKeyFromBigInt returns the secret key x, which must satisfy 0 < x < r (EIP-2333's
// derivation yields such values).
func SecretKeyFromBigInt(x *big.Int) (*SecretKey, error) {
	if x == nil || x.Sign() <= 0 || x.Cmp(fr.Modulus()) >= 0 {
		return nil, fmt.Errorf("%w: out of range", ErrInvalidSecretKey)
	}
	sk := SecretKey{s: new(fr.Element)}
	sk.s.SetBigInt(x)
	return &sk, nil
}

// Bytes returns the 32-byte big-endian encoding. The caller owns the copy and should wipe it.
func (sk *SecretKey) Bytes() [SecretKeyLength]byte { return sk.s.Bytes() }

// PublicKey returns sk*G1.
func (sk *SecretKey) PublicKey() *PublicKey {
	// Fixed-base multiplication by the generator: the scalar's timing footprint here is the same
	// concern as in Sign, so it uses the same hardened ladder on G1.
	var pk PublicKey
	pk.p = g1MulSecret(&g1Gen, sk.s)
	return &pk
}

// Zeroize overwrites the key in memory. The key must not be used afterwards.
func (sk *SecretKey) Zeroize() { sk.s.SetZero() }

// String keeps secret keys out of logs. It and Format have value receivers so that a
// dereferenced key prints redacted too.
func (SecretKey) String() string { return "bls.SecretKey(redacted)" }

// GoString keeps secret keys out of %#v output.
func (sk SecretKey) GoString() string { return sk.String() }

// Format keeps secret keys out of every fmt verb (%x, %d, %+v ...).
func (sk SecretKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(sk.String())) }

// PublicKey is a BLS public key: a G1 point in the prime-order subgroup, never the identity.
type PublicKey struct {
	p bls12381.G1Affine
}

// PublicKeyFromBytes decodes a 48-byte compressed public key, checks subgroup membership, and
// refuses the point at infinity (KeyValidate).
func PublicKeyFromBytes(b []byte) (*PublicKey, error) {
	p, err := decodeG1(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPublicKey, err)
	}
	if p.IsInfinity() {
		return nil, fmt.Errorf("%w: point at infinity", ErrInvalidPublicKey)
	}
	return &PublicKey{p: p}, nil
}

// Bytes returns the 48-byte compressed encoding.
func (pk *PublicKey) Bytes() [PublicKeyLength]byte { return pk.p.Bytes() }

// Equal reports whether both keys are the same point.
func (pk *PublicKey) Equal(o *PublicKey) bool { return pk.p.Equal(&o.p) }

// String returns the 0x-prefixed hex encoding.
func (pk *PublicKey) String() string {
	b := pk.Bytes()
	return "0x" + hex.EncodeToString(b[:])
}

// Signature is a BLS signature: a G2 point in the prime-order subgroup.
type Signature struct {
	p bls12381.G2Affine
}

// SignatureFromBytes decodes a 96-byte compressed signature and checks subgroup membership. The
// point at infinity decodes (it is a valid encoding) but never verifies.
func SignatureFromBytes(b []byte) (*Signature, error) {
	p, err := decodeG2(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	return &Signature{p: p}, nil
}

// Bytes returns the 96-byte compressed encoding.
func (s *Signature) Bytes() [SignatureLength]byte { return s.p.Bytes() }

// Equal reports whether both signatures are the same point.
func (s *Signature) Equal(o *Signature) bool { return s.p.Equal(&o.p) }

// String returns the 0x-prefixed hex encoding.
func (s *Signature) String() string {
	b := s.Bytes()
	return "0x" + hex.EncodeToString(b[:])
}

// decodeG1 decodes a compressed G1 point of exactly 48 bytes with a subgroup check. It accepts
// the canonical encoding of infinity; callers decide whether infinity is allowed.
func decodeG1(b []byte) (bls12381.G1Affine, error) {
	var p bls12381.G1Affine
	if len(b) != PublicKeyLength {
		return p, fmt.Errorf("%d bytes, want %d", len(b), PublicKeyLength)
	}
	if b[0]&0x80 == 0 {
		// Ethereum uses only compressed encodings; gnark-crypto would read 96 bytes otherwise.
		return p, errors.New("compression flag not set")
	}
	if _, err := p.SetBytes(b); err != nil {
		return p, err
	}
	return p, nil
}

// decodeG2 is decodeG1 for 96-byte compressed G2 points.
func decodeG2(b []byte) (bls12381.G2Affine, error) {
	var p bls12381.G2Affine
	if len(b) != SignatureLength {
		return p, fmt.Errorf("%d bytes, want %d", len(b), SignatureLength)
	}
	if b[0]&0x80 == 0 {
		return p, errors.New("compression flag not set")
	}
	if _, err := p.SetBytes(b); err != nil {
		return p, err
	}
	return p, nil
}
