package prover

import (
	"crypto/sha256"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
)

// Hashes. Every value that enters a proof is built from two Poseidon2 primitives over the BN254
// scalar field, both with gnark-crypto's default parameters for their width:
//
//   - compress2(l, r) = P₂(l, r)[1] + r, the width-2 permutation (6 full, 50 partial rounds)
//     with the feed-forward of gnark's Compress; one permutation, 186 R1CS constraints.
//   - node(c₀, c₁, c₂, c₃) = P₄(c₀, c₁, c₂, c₃)[0] + c₀, the width-4 permutation (8 full, 56
//     partial rounds) in compression mode; one permutation per level of the 4-ary registry
//     tree, 264 constraints.
//
// Tagged hashes are Merkle–Damgård chains of compress2 that start from a domain tag:
// H_T(m₁, …, mₖ) = compress2(…compress2(compress2(T, m₁), m₂)…, mₖ), with a fixed k per tag.
// Tree nodes are the one untagged use: the tree has a fixed depth, so a node is only ever
// hashed at its own level, and every other hash starts from a tag that no node can equal
// without a preimage of node.
//
// These are gnark's own round constants (gnark-crypto ecc/bn254/fr/poseidon2), not circom's
// Poseidon nor any other Poseidon2 instance: the values agree between gnark and gnark-crypto
// only. Anything exported to other tools (snarkjs JSON, Solidity) carries field elements that
// only zkv's hashes recompute.

// Domain tags: ASCII strings read as big-endian integers (all shorter than 31 bytes, so below
// the field modulus). Bumping a version changes every value derived under it.
var (
	TagIdentity  = tag("zkv/identity/v1")
	TagLeaf      = tag("zkv/leaf/v1")
	TagA1        = tag("zkv/a1/v2") // v2: the epoch is packed with the network (EpochNetwork)
	TagNullifier = tag("zkv/nullifier/v1")
	TagMessage   = tag("zkv/message/v1")
)

func tag(s string) fr.Element {
	if len(s) >= fr.Bytes {
		panic("prover: tag too long: " + s)
	}
	var e fr.Element
	e.SetBytes([]byte(s))
	return e
}

var (
	perm2 = poseidon2.NewPermutation(2, 6, 50)
	perm4 = poseidon2.NewPermutation(4, 8, 56)
)

// Width and round numbers of the two permutations, shared with the circuit.
const (
	p2FullRounds, p2PartialRounds = 6, 50
	p4FullRounds, p4PartialRounds = 8, 56
)

// Arity is the number of children of a registry tree node.
const Arity = 4

// compress2 is gnark-crypto's Poseidon2 Compress on field elements.
func compress2(l, r fr.Element) fr.Element {
	s := [2]fr.Element{l, r}
	if err := perm2.Permutation(s[:]); err != nil {
		panic(err) // the slice has the permutation's width
	}
	s[1].Add(&s[1], &r)
	return s[1]
}

// Node hashes the four children of a registry tree node.
func Node(c [Arity]fr.Element) fr.Element {
	s := c
	if err := perm4.Permutation(s[:]); err != nil {
		panic(err) // the array has the permutation's width
	}
	s[0].Add(&s[0], &c[0])
	return s[0]
}

// tagged is the tagged Merkle–Damgård hash H_tag(m...).
func tagged(t fr.Element, m ...fr.Element) fr.Element {
	h := t
	for i := range m {
		h = compress2(h, m[i])
	}
	return h
}

// IdentityCommitment returns id = H(TAG_ID, s), the public commitment to a ZK secret.
func IdentityCommitment(secret fr.Element) fr.Element {
	return tagged(TagIdentity, secret)
}

// Leaf returns the registry leaf H(TAG_LEAF, id, weight) of an identity commitment and a
// weight (the effective balance in gwei).
func Leaf(id fr.Element, weight uint64) fr.Element {
	var w fr.Element
	w.SetUint64(weight)
	return tagged(TagLeaf, id, w)
}

// A1 returns the slope a1 = H(TAG_A1, s, epoch + 2^64·network) of the line y = s + a1·x that
// a validator's proofs lie on during one epoch of one network. The network is part of the
// slope, so one key on two networks (the same circuit keys, the same epoch number) has two
// unrelated lines and nullifiers: two honest attestations there are not an equivocation.
func A1(secret fr.Element, epoch uint64, network fr.Element) fr.Element {
	e := EpochNetwork(epoch, network)
	return tagged(TagA1, secret, e)
}

// EpochNetwork packs an epoch and a network identifier into one field element, epoch +
// 2^64·network: injective for a 64-bit epoch (the circuit range-checks it) and a network
// identifier below 2^NetworkBits, and free in the circuit (a linear combination).
func EpochNetwork(epoch uint64, network fr.Element) fr.Element {
	var e fr.Element
	e.Mul(&network, &twoTo64)
	var ep fr.Element
	ep.SetUint64(epoch)
	return *e.Add(&e, &ep)
}

var twoTo64 = func() fr.Element {
	var e fr.Element
	e.SetUint64(1 << 63)
	return *e.Double(&e)
}()

// NetworkBits is the size of a network identifier: 23 bytes, so that epoch + 2^64·network
// stays below 2^248 and the field modulus.
const NetworkBits = 184

// Network names the chain a proof or a registration is for: its genesis fork version and
// genesis validators root, as in the consensus specs' compute_fork_data_root.
type Network struct {
	GenesisForkVersion    [4]byte
	GenesisValidatorsRoot [32]byte
}

// ForkDataRoot returns hash_tree_root(ForkData(genesis_fork_version, genesis_validators_root))
// (consensus specs, phase0 compute_fork_data_root), the value fork digests are cut from.
func (n Network) ForkDataRoot() [32]byte {
	var chunks [64]byte // current_version (Bytes4, padded to a chunk) | genesis_validators_root
	copy(chunks[:4], n.GenesisForkVersion[:])
	copy(chunks[32:], n.GenesisValidatorsRoot[:])
	return sha256.Sum256(chunks[:])
}

// ID returns the network identifier bound into every proof (public input Network): the
// first 23 bytes of ForkDataRoot as a big-endian integer. Two networks differ in their
// genesis validators root even when they share a fork version (every devnet and testnet
// that starts from 0x00000000), so their identifiers differ.
func (n Network) ID() fr.Element {
	root := n.ForkDataRoot()
	var e fr.Element
	e.SetBytes(root[:NetworkBits/8])
	return e
}

// Nullifier returns H(TAG_N, a1): equal for every proof of one validator in one epoch, and
// unlinkable to the validator otherwise.
func Nullifier(a1 fr.Element) fr.Element {
	return tagged(TagNullifier, a1)
}

// MessageX maps an attestation's signing root (32 bytes) to the x coordinate of its proof:
// H(TAG_MSG, hi, lo) with hi and lo the two big-endian 128-bit halves, so the map is
// injective before hashing and two different signing roots share an x only by a Poseidon2
// collision.
func MessageX(signingRoot [32]byte) fr.Element {
	var hi, lo fr.Element
	hi.SetBytes(signingRoot[:16])
	lo.SetBytes(signingRoot[16:])
	return tagged(TagMessage, hi, lo)
}

// ZeroHashes returns the value of an empty subtree at every level of a tree of the given
// depth: level 0 is an empty leaf (zero), level l+1 is Node of four level-l values. The tree
// stores only non-empty nodes and reads everything else from this table.
func ZeroHashes(depth int) []fr.Element {
	levels := depth / 2
	z := make([]fr.Element, levels+1)
	for l := 0; l < levels; l++ {
		z[l+1] = Node([Arity]fr.Element{z[l], z[l], z[l], z[l]})
	}
	return z
}

// FieldFromBytes decodes a canonical big-endian field element (32 bytes, below the modulus).
func FieldFromBytes(b []byte) (fr.Element, error) {
	var e fr.Element
	if len(b) != fr.Bytes {
		return e, fmt.Errorf("field element: got %d bytes, want %d", len(b), fr.Bytes)
	}
	if err := e.SetBytesCanonical(b); err != nil {
		return e, fmt.Errorf("field element: %w", err)
	}
	return e, nil
}
