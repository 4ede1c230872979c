package prover

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/consensys/gnark"
	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// IdentityCircuit is the proof of knowledge a registration carries: the prover knows s with
// Identity = H(TAG_ID, s), for a registration whose key gives Binding (IdentityBinding). An
// identity commitment depends on the BLS key alone and is the same on every network, so
// without this proof whoever registers a validator's commitment first (copied from another
// network) locks the validator out; with it, only a holder of s can register the commitment,
// and the proof made for one key and network does not serve another.
type IdentityCircuit struct {
	Identity frontend.Variable `gnark:",public"`
	Binding  frontend.Variable `gnark:",public"`
	Secret   frontend.Variable
}

// Define implements frontend.Circuit.
func (c *IdentityCircuit) Define(api frontend.API) error {
	h, err := newHasherGadget(api)
	if err != nil {
		return err
	}
	api.AssertIsEqual(h.tagged(TagIdentity, c.Secret), c.Identity)
	// A public input that enters no constraint has a zero point in the verifying key, and then
	// any value of it verifies: Binding must appear in one. Binding·s ties it to the witness.
	api.AssertIsEqual(api.Mul(c.Binding, c.Secret), api.Mul(c.Secret, c.Binding))
	return nil
}

// bindingDST separates IdentityBinding from every other SHA-256 in zkv.
const bindingDST = "zkv/identity-binding/v1"

// IdentityBinding returns the value an identity proof is bound to: the first 31 bytes of
// SHA-256(bindingDST | domain | pubkey) as a big-endian integer (below the field modulus),
// with domain the network's registration domain and pubkey the registering BLS key.
func IdentityBinding(domain [32]byte, pubkey []byte) fr.Element {
	h := sha256.New()
	h.Write([]byte(bindingDST))
	h.Write(domain[:])
	h.Write(pubkey)
	var sum [32]byte
	h.Sum(sum[:0])
	var e fr.Element
	e.SetBytes(sum[:31])
	return e
}

// IdentityKeys prove and verify identity proofs. Like Keys, keys that LoadIdentityKeys makes
// come from a single-party setup and are for devnets only (DevnetWarning); keys of a
// ceremony (Ceremony.Finalize) are read from the same cache with Origin().Ceremony set.
type IdentityKeys struct {
	ccs    *cs.R1CS
	pk     *groth16bn254.ProvingKey
	vk     *IdentityVerifyingKey
	origin KeyOrigin
}

// Origin says whether the keys come from a ceremony (and which) or a single-party setup.
func (k *IdentityKeys) Origin() KeyOrigin { return k.origin }

func identityCacheName(ccs *cs.R1CS) string {
	h := circuitHash(ccs)
	return fmt.Sprintf("zkv-identity-groth16-bn254-gnark%s-%x.keys", gnark.Version, h[:8])
}

// writeCache writes the keys to path: written beside it and renamed, so that a reader never
// sees half a file.
func (k *IdentityKeys) writeCache(path string) error {
	var buf bytes.Buffer
	buf.Write(k.origin.encode())
	if _, err := k.pk.WriteTo(&buf); err != nil {
		return fmt.Errorf("encode identity proving key: %w", err)
	}
	if _, err := k.vk.vk.WriteTo(&buf); err != nil {
		return fmt.Errorf("encode identity verifying key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("identity keys: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	file := append(append(identityMagic[:], sum[:]...), buf.Bytes()...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, file, 0o644); err != nil {
		return fmt.Errorf("identity keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("identity keys: %w", err)
	}
	return nil
}

// IdentityVerifyingKey verifies identity proofs. It is safe for concurrent use.
type IdentityVerifyingKey struct {
	vk *groth16bn254.VerifyingKey
}

// VerifyingKey returns the verifying key.
func (k *IdentityKeys) VerifyingKey() *IdentityVerifyingKey { return k.vk }

// Constraints returns the number of R1CS constraints of the identity circuit.
func (k *IdentityKeys) Constraints() int { return k.ccs.GetNbConstraints() }

func compileIdentity() (*cs.R1CS, error) {
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &IdentityCircuit{})
	if err != nil {
		return nil, fmt.Errorf("compile identity circuit: %w", err)
	}
	return ccs.(*cs.R1CS), nil
}

func newIdentityVerifyingKey(vk *groth16bn254.VerifyingKey) (*IdentityVerifyingKey, error) {
	if len(vk.G1.K) != 3 || len(vk.CommitmentKeys) != 0 {
		return nil, fmt.Errorf("%w: identity verifying key with %d public points and %d commitments, want 3 and none", ErrMalformed, len(vk.G1.K), len(vk.CommitmentKeys))
	}
	for _, p := range vk.G1.K {
		if p.IsInfinity() || !p.IsOnCurve() {
			return nil, fmt.Errorf("%w: identity verifying key point at infinity or off the curve", ErrMalformed)
		}
	}
	if err := vk.Precompute(); err != nil {
		return nil, fmt.Errorf("identity verifying key: %w", err)
	}
	return &IdentityVerifyingKey{vk: vk}, nil
}

// LoadIdentityKeys compiles the identity circuit and returns its keys: from
// cacheDir/zkv-identity-<gnark version>-<circuit hash>.keys when it exists, from a new
// single-party setup (written there when cacheDir is not empty) otherwise. With cacheOnly a
// missing file is ErrNoKeys. The file holds the keys in gnark's checked encoding (curve and
// subgroup checks on reading), so a damaged file is an error, never a panic.
func LoadIdentityKeys(cacheDir string, cacheOnly bool) (*IdentityKeys, error) {
	ccs, err := compileIdentity()
	if err != nil {
		return nil, err
	}
	k := &IdentityKeys{ccs: ccs}
	path := ""
	if cacheDir != "" {
		path = filepath.Join(cacheDir, identityCacheName(ccs))
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := k.decode(b); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrCorruptCache, path, err)
			}
			return k, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("identity keys: %w", err)
		}
	}
	if cacheOnly {
		return nil, fmt.Errorf("%w: no identity keys in %q", ErrNoKeys, cacheDir)
	}
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		return nil, fmt.Errorf("identity circuit setup: %w", err)
	}
	k.pk = pk.(*groth16bn254.ProvingKey)
	if k.vk, err = newIdentityVerifyingKey(vk.(*groth16bn254.VerifyingKey)); err != nil {
		return nil, err
	}
	if path != "" {
		if err := k.writeCache(path); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// identityMagic starts an identity key cache file: magic | SHA-256 of the rest | origin |
// proving key | verifying key. The checksum catches damage that gnark's decoders accept (a
// flipped byte in a point-at-infinity flag or a count decodes into other, wrong keys).
// Version 2 added the origin (KeyOrigin); a version-1 file has none and holds single-party
// keys.
var (
	identityMagic   = [8]byte{'Z', 'K', 'V', 'I', 'D', 'K', 'E', 2}
	identityMagicV1 = [8]byte{'Z', 'K', 'V', 'I', 'D', 'K', 'E', 1}
)

func (k *IdentityKeys) decode(data []byte) error {
	if len(data) < len(identityMagic)+sha256.Size {
		return errors.New("not a zkv identity key cache")
	}
	v1 := bytes.Equal(data[:len(identityMagicV1)], identityMagicV1[:])
	if !v1 && !bytes.Equal(data[:len(identityMagic)], identityMagic[:]) {
		return errors.New("not a zkv identity key cache")
	}
	sum, b := data[len(identityMagic):len(identityMagic)+sha256.Size], data[len(identityMagic)+sha256.Size:]
	if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
		return errors.New("checksum mismatch")
	}
	var origin KeyOrigin
	if !v1 {
		var err error
		if origin, err = decodeOrigin(b); err != nil {
			return err
		}
		b = b[originSize:]
	}
	r := bytes.NewReader(b)
	pk := new(groth16bn254.ProvingKey)
	if err := decodeSafely(func() error { _, err := pk.ReadFrom(r); return err }); err != nil {
		return fmt.Errorf("proving key: %w", err)
	}
	vk := new(groth16bn254.VerifyingKey)
	if err := decodeSafely(func() error { _, err := vk.ReadFrom(r); return err }); err != nil {
		return fmt.Errorf("verifying key: %w", err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	// The proving key must be the verifying key's: the same α, β and δ.
	if !pk.G1.Alpha.Equal(&vk.G1.Alpha) || !pk.G1.Beta.Equal(&vk.G1.Beta) || !pk.G2.Beta.Equal(&vk.G2.Beta) ||
		!pk.G1.Delta.Equal(&vk.G1.Delta) || !pk.G2.Delta.Equal(&vk.G2.Delta) {
		return errors.New("proving key does not match the verifying key")
	}
	if n := ecc.NextPowerOfTwo(uint64(k.ccs.GetNbConstraints())); pk.Domain.Cardinality != n {
		return fmt.Errorf("proving key domain of %d points, want %d", pk.Domain.Cardinality, n)
	}
	vkw, err := newIdentityVerifyingKey(vk)
	if err != nil {
		return err
	}
	k.pk, k.vk, k.origin = pk, vkw, origin
	return nil
}

// ProveIdentity proves knowledge of secret for its identity commitment, bound to binding.
func (k *IdentityKeys) ProveIdentity(secret, binding fr.Element) (*Proof, error) {
	wit, err := frontend.NewWitness(&IdentityCircuit{Identity: IdentityCommitment(secret), Binding: binding, Secret: secret}, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("identity proof: witness: %w", err)
	}
	proof, err := groth16.Prove(k.ccs, k.pk, wit)
	if err != nil {
		return nil, fmt.Errorf("identity proof: %w", err)
	}
	return proofFromGnark(proof.(*groth16bn254.Proof)), nil
}

// VerifyIdentity checks an identity proof for an identity commitment and a binding. It
// returns ErrInvalidProof (or ErrMalformed for unusable points).
func (vk *IdentityVerifyingKey) VerifyIdentity(p *Proof, identity, binding fr.Element) error {
	if err := p.check(); err != nil {
		return err
	}
	if err := groth16bn254.Verify(p.gnark(), vk.vk, fr.Vector{identity, binding}); err != nil {
		return fmt.Errorf("%w: identity proof: %v", ErrInvalidProof, err)
	}
	return nil
}
