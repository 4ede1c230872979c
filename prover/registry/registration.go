package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
)

// DomainTypeRegistration is the zkv application domain type of registrations: "zkv" and the
// consensus specs' application mask bit (DOMAIN_APPLICATION_MASK = 0x00000001), so no beacon
// chain message can be replayed as a registration or the other way round.
var DomainTypeRegistration = [4]byte{'z', 'k', 'v', 0x01}

// ComputeDomain returns the registration signing domain of a network, as the consensus specs'
// compute_domain(DomainTypeRegistration, genesis_fork_version, genesis_validators_root):
// the domain type followed by the first 28 bytes of hash_tree_root(ForkData(
// genesis_fork_version, genesis_validators_root)). It uses the genesis fork version, so
// registrations survive forks, and the genesis validators root, so that a registration for
// one network does not register on another that shares its fork version (every network that
// starts from 0x00000000). With a zero root it is the builder API's form of the domain.
func ComputeDomain(n prover.Network) [32]byte {
	forkDataRoot := n.ForkDataRoot()
	var d [32]byte
	copy(d[:4], DomainTypeRegistration[:])
	copy(d[4:], forkDataRoot[:28])
	return d
}

// RegistrationSize is the length of an encoded Registration.
const RegistrationSize = bls.PublicKeyLength + fr.Bytes + 8 + 8 + bls.SignatureLength + prover.ProofSize

// Registration asks for a validator's leaf in the registry: its BLS public key, its identity
// commitment H(TAG_ID, s), its weight (effective balance in gwei) and the time it was signed,
// signed with the BLS key.
//
// The timestamp (Unix seconds) orders the registrations of one key, as in the builder API's
// validator registrations: the registry takes a registration of a key it knows only if it is
// newer than the last one it took, so an old signed registration cannot be replayed to roll
// the key's weight or identity back.
//
// Signing root (consensus specs' compute_signing_root): hash_tree_root(SigningData(
// object_root, domain)) with object_root the SSZ hash_tree_root of the container
//
//	ZKVRegistration {
//	    pubkey:    BLSPubkey (Bytes48)
//	    identity:  Bytes32 (big-endian)
//	    weight:    uint64
//	    timestamp: uint64
//	}
//
// and domain = ComputeDomain(network).
//
// IdentityProof shows that whoever made the registration knows the secret s behind Identity:
// a prover.IdentityCircuit proof bound to prover.IdentityBinding(domain, Pubkey). The
// signature binds the identity to the key; the proof keeps a key from registering an identity
// it does not hold (an identity commitment is the same on every network, so it can be
// copied from one). The proof is bound to the key and domain, not signed.
type Registration struct {
	Pubkey        [bls.PublicKeyLength]byte
	Identity      fr.Element
	Weight        uint64
	Timestamp     uint64 // Unix seconds
	Signature     [bls.SignatureLength]byte
	IdentityProof [prover.ProofSize]byte
}

// SigningRoot returns the root the registration's signature signs.
func (r *Registration) SigningRoot(domain [32]byte) [32]byte {
	// Bytes48 is two chunks, merkleized.
	var pk [64]byte
	copy(pk[:], r.Pubkey[:])
	pkRoot := sha256.Sum256(pk[:])
	id := r.Identity.Bytes()
	var weight, timestamp [32]byte
	binary.LittleEndian.PutUint64(weight[:], r.Weight) // SSZ uint64: little-endian, padded
	binary.LittleEndian.PutUint64(timestamp[:], r.Timestamp)
	left := sha256.Sum256(append(pkRoot[:], id[:]...))
	right := sha256.Sum256(append(weight[:], timestamp[:]...))
	objectRoot := sha256.Sum256(append(left[:], right[:]...))
	return sha256.Sum256(append(objectRoot[:], domain[:]...))
}

// Sign returns the registration of the validator holding sk, with its identity derived from
// sk (prover.SecretFromBLS) and proved with ik, timestamped now. Two registrations of one key
// signed within the same second carry the same timestamp, and the registry takes only the
// first; SignAt sets the timestamp.
func Sign(ik *prover.IdentityKeys, sk *bls.SecretKey, weight uint64, domain [32]byte) (Registration, error) {
	return SignAt(ik, sk, weight, uint64(time.Now().Unix()), domain)
}

// SignAt is Sign with the timestamp (Unix seconds) given.
func SignAt(ik *prover.IdentityKeys, sk *bls.SecretKey, weight, timestamp uint64, domain [32]byte) (Registration, error) {
	secret := prover.SecretFromBLS(sk)
	r := Registration{
		Pubkey:    sk.PublicKey().Bytes(),
		Identity:  prover.IdentityCommitment(secret),
		Weight:    weight,
		Timestamp: timestamp,
	}
	proof, err := ik.ProveIdentity(secret, prover.IdentityBinding(domain, r.Pubkey[:]))
	if err != nil {
		return Registration{}, err
	}
	r.IdentityProof = proof.Bytes()
	root := r.SigningRoot(domain)
	r.Signature = sk.Sign(root[:]).Bytes()
	return r, nil
}

// VerifyIdentity checks the registration's identity proof under domain with vk. It returns
// ErrBadIdentityProof for a proof that does not verify or does not decode.
func (r *Registration) VerifyIdentity(vk *prover.IdentityVerifyingKey, domain [32]byte) error {
	p, err := prover.ProofFromBytes(r.IdentityProof[:])
	if err != nil {
		return fmt.Errorf("%w: key %x: %v", ErrBadIdentityProof, r.Pubkey[:8], err)
	}
	if err := vk.VerifyIdentity(p, r.Identity, prover.IdentityBinding(domain, r.Pubkey[:])); err != nil {
		return fmt.Errorf("%w: key %x: %v", ErrBadIdentityProof, r.Pubkey[:8], err)
	}
	return nil
}

// Verify checks the registration's signature under domain. It returns ErrBadSignature for a
// signature that does not verify and for keys or signatures that do not decode.
func (r *Registration) Verify(domain [32]byte) error {
	pk, err := bls.PublicKeyFromBytes(r.Pubkey[:])
	if err != nil {
		return fmt.Errorf("%w: public key: %v", ErrBadSignature, err)
	}
	sig, err := bls.SignatureFromBytes(r.Signature[:])
	if err != nil {
		return fmt.Errorf("%w: signature: %v", ErrBadSignature, err)
	}
	root := r.SigningRoot(domain)
	if !bls.Verify(pk, root[:], sig) {
		return fmt.Errorf("%w: registration of %x", ErrBadSignature, r.Pubkey[:8])
	}
	return nil
}

// Leaf returns the registry leaf of the registration.
func (r *Registration) Leaf() fr.Element { return prover.Leaf(r.Identity, r.Weight) }

// Bytes encodes the registration as pubkey | identity (big-endian) | weight (big-endian) |
// timestamp (big-endian) | signature | identity proof.
func (r *Registration) Bytes() [RegistrationSize]byte {
	var b [RegistrationSize]byte
	n := copy(b[:], r.Pubkey[:])
	id := r.Identity.Bytes()
	n += copy(b[n:], id[:])
	binary.BigEndian.PutUint64(b[n:], r.Weight)
	n += 8
	binary.BigEndian.PutUint64(b[n:], r.Timestamp)
	n += 8
	n += copy(b[n:], r.Signature[:])
	copy(b[n:], r.IdentityProof[:])
	return b
}

// RegistrationFromBytes decodes Bytes. It checks the encoding only (a canonical identity);
// Verify checks the signature and VerifyIdentity the identity proof.
func RegistrationFromBytes(b []byte) (Registration, error) {
	var r Registration
	if len(b) != RegistrationSize {
		return r, fmt.Errorf("%w: registration of %d bytes, want %d", ErrMalformed, len(b), RegistrationSize)
	}
	n := copy(r.Pubkey[:], b)
	id, err := prover.FieldFromBytes(b[n : n+fr.Bytes])
	if err != nil {
		return r, fmt.Errorf("%w: identity: %v", ErrMalformed, err)
	}
	r.Identity = id
	n += fr.Bytes
	r.Weight = binary.BigEndian.Uint64(b[n:])
	n += 8
	r.Timestamp = binary.BigEndian.Uint64(b[n:])
	n += 8
	n += copy(r.Signature[:], b[n:])
	copy(r.IdentityProof[:], b[n:])
	return r, nil
}
