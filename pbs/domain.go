package pbs

import (
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Domain types this package signs under (consensus-specs phase0 "Domain types";
// builder-specs "Signing" for the application builder domain).
var (
	DomainApplicationBuilder = phase0.DomainType{0x00, 0x00, 0x00, 0x01}
	DomainBeaconProposer     = phase0.DomainType{0x00, 0x00, 0x00, 0x00}
)

// Errors callers branch on.
var (
	// ErrInvalidSignature: a signature that decodes but does not verify.
	ErrInvalidSignature = errors.New("pbs: invalid signature")
	// ErrBadKey: a public key that does not decode or is the point at infinity.
	ErrBadKey = errors.New("pbs: invalid public key")
)

// ComputeDomain is the consensus specs' compute_domain(domain_type, fork_version,
// genesis_validators_root): the domain type followed by the first 28 bytes of the fork data root.
func ComputeDomain(dt phase0.DomainType, forkVersion phase0.Version, genesisValidatorsRoot phase0.Root) (phase0.Domain, error) {
	fd := &phase0.ForkData{CurrentVersion: forkVersion, GenesisValidatorsRoot: genesisValidatorsRoot}
	root, err := fd.HashTreeRoot()
	if err != nil {
		return phase0.Domain{}, fmt.Errorf("fork data root: %w", err)
	}
	var d phase0.Domain
	copy(d[:4], dt[:])
	copy(d[4:], root[:28])
	return d, nil
}

// BuilderDomain is DOMAIN_APPLICATION_BUILDER for a network: compute_domain with the network's
// genesis fork version and a zero genesis validators root (builder-specs, "Signing"), so that
// bids and registrations sign the same way in every fork.
func BuilderDomain(genesisForkVersion phase0.Version) phase0.Domain {
	d, err := ComputeDomain(DomainApplicationBuilder, genesisForkVersion, phase0.Root{})
	if err != nil {
		// ForkData is two fixed-size fields: hashing it cannot fail.
		panic(err)
	}
	return d
}

// Rooted is an SSZ object with a hash tree root.
type Rooted interface {
	HashTreeRoot() ([32]byte, error)
}

// SigningRoot is compute_signing_root(object, domain).
func SigningRoot(obj Rooted, domain phase0.Domain) ([32]byte, error) {
	root, err := obj.HashTreeRoot()
	if err != nil {
		return [32]byte{}, fmt.Errorf("hash tree root: %w", err)
	}
	return (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
}

// Sign signs obj under domain.
func Sign(sk *bls.SecretKey, obj Rooted, domain phase0.Domain) (phase0.BLSSignature, error) {
	root, err := SigningRoot(obj, domain)
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return phase0.BLSSignature(sk.Sign(root[:]).Bytes()), nil
}

// SignatureSet decodes pubkey and signature and returns the set that verifies obj under domain,
// for one Verify or a batch (crypto/bls Verifier).
func SignatureSet(pubkey phase0.BLSPubKey, obj Rooted, domain phase0.Domain, sig phase0.BLSSignature) (bls.SignatureSet, error) {
	pk, err := bls.PublicKeyFromBytes(pubkey[:])
	if err != nil {
		return bls.SignatureSet{}, fmt.Errorf("%w %#x: %v", ErrBadKey, pubkey[:], err)
	}
	s, err := bls.SignatureFromBytes(sig[:])
	if err != nil {
		return bls.SignatureSet{}, fmt.Errorf("%w: signature does not decode: %v", ErrInvalidSignature, err)
	}
	root, err := SigningRoot(obj, domain)
	if err != nil {
		return bls.SignatureSet{}, err
	}
	return bls.SignatureSet{PublicKey: pk, Message: root[:], Signature: s}, nil
}

// Verify checks that sig is pubkey's signature of obj under domain.
func Verify(pubkey phase0.BLSPubKey, obj Rooted, domain phase0.Domain, sig phase0.BLSSignature) error {
	set, err := SignatureSet(pubkey, obj, domain, sig)
	if err != nil {
		return err
	}
	if !bls.Verify(set.PublicKey, set.Message, set.Signature) {
		return ErrInvalidSignature
	}
	return nil
}
