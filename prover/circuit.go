package prover

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/math/bits"
	"github.com/consensys/gnark/std/permutation/poseidon2"
)

// Depth limits. The depth is the number of index bits (capacity 2^depth leaves); the tree is
// 4-ary, so a depth is even and the tree has depth/2 levels of Node hashes.
const (
	DefaultDepth = 20
	MinDepth     = 2
	MaxDepth     = 32
)

// NumPublic is the number of public inputs of the circuit: root, epoch, x, y, nullifier, the
// minimum weight and the network identifier, in that order.
const NumPublic = 7

// weightBits bounds weight - minWeight: the difference is proved to fit in 64 bits, which
// with both values below 2^64 is exactly weight >= minWeight. The epoch and the minimum
// weight are public inputs that the circuit range-checks to the same 64 bits: a verifier
// that reads them as integers (a Solidity contract's require(minWeight >= X)) must not be
// handed a field element such as r-5 that no integer of 64 bits is.
const weightBits = 64

// CheckDepth reports whether depth is a supported registry depth.
func CheckDepth(depth int) error {
	if depth < MinDepth || depth > MaxDepth || depth%2 != 0 {
		return fmt.Errorf("%w: depth %d: want an even number in [%d, %d]", ErrBadInput, depth, MinDepth, MaxDepth)
	}
	return nil
}

// Circuit is the private attestation statement: the prover knows a secret s, a weight and a
// path such that
//
//	leaf = H(TAG_LEAF, H(TAG_ID, s), weight) is at the path's index under Root,
//	a1 = H(TAG_A1, s, Epoch + 2^64·Network), Y = s + a1·X, Nullifier = H(TAG_N, a1),
//	weight >= MinWeight, Epoch < 2^64, MinWeight < 2^64.
//
// The public inputs come first, in the order of NumPublic. The circuit uses no BSB22
// commitments, so its proofs verify with plain pairings (batch verification, Solidity).
type Circuit struct {
	Root      frontend.Variable `gnark:",public"`
	Epoch     frontend.Variable `gnark:",public"`
	X         frontend.Variable `gnark:",public"`
	Y         frontend.Variable `gnark:",public"`
	Nullifier frontend.Variable `gnark:",public"`
	MinWeight frontend.Variable `gnark:",public"`
	Network   frontend.Variable `gnark:",public"`

	Secret frontend.Variable
	Weight frontend.Variable
	Path   PathGadget
}

// NewCircuit returns an empty circuit of the given depth, for compiling.
func NewCircuit(depth int) *Circuit {
	return &Circuit{Path: newPathGadget(depth)}
}

// Define implements frontend.Circuit. The order of the statements is the order of the wires:
// everything that depends only on the validator and the registry comes first and the
// per-epoch part (a1, y, nullifier) last, which keeps the per-epoch wires together for the
// prover's cache.
func (c *Circuit) Define(api frontend.API) error {
	h, err := newHasherGadget(api)
	if err != nil {
		return err
	}
	id := h.tagged(TagIdentity, c.Secret)
	leaf := h.tagged(TagLeaf, id, c.Weight)
	api.AssertIsEqual(c.Path.Root(api, h, leaf), c.Root)

	// weight - minWeight in [0, 2^64): the registry only admits 64-bit weights.
	bits.ToBinary(api, api.Sub(c.Weight, c.MinWeight), bits.WithNbDigits(weightBits))
	// Public integers are integers: 65 constraints each.
	bits.ToBinary(api, c.MinWeight, bits.WithNbDigits(weightBits))
	bits.ToBinary(api, c.Epoch, bits.WithNbDigits(weightBits))

	// The network rides in the slope's epoch input, epoch + 2^64·network, at no cost: with
	// the epoch below 2^64 and the verifier fixing the network, the packing is injective.
	a1 := h.tagged(TagA1, c.Secret, api.Add(c.Epoch, api.Mul(c.Network, new(big.Int).Lsh(big.NewInt(1), 64))))
	api.AssertIsEqual(c.Y, api.Add(c.Secret, api.Mul(a1, c.X)))
	api.AssertIsEqual(c.Nullifier, h.tagged(TagNullifier, a1))
	return nil
}

// PathGadget is a membership path in the 4-ary registry tree: the leaf index as bits, least
// significant first (bits 2l and 2l+1 give the leaf's position among its siblings at level
// l), and three siblings per level in child order, the path's own node left out.
type PathGadget struct {
	IndexBits []frontend.Variable
	Siblings  []frontend.Variable
}

func newPathGadget(depth int) PathGadget {
	return PathGadget{
		IndexBits: make([]frontend.Variable, depth),
		Siblings:  make([]frontend.Variable, depth/2*(Arity-1)),
	}
}

// Root hashes leaf up the path and returns the root.
func (p PathGadget) Root(api frontend.API, h *hasherGadget, leaf frontend.Variable) frontend.Variable {
	cur := leaf
	for l := 0; l < len(p.IndexBits)/2; l++ {
		b0, b1 := p.IndexBits[2*l], p.IndexBits[2*l+1]
		api.AssertIsBoolean(b0)
		api.AssertIsBoolean(b1)
		s0, s1, s2 := p.Siblings[3*l], p.Siblings[3*l+1], p.Siblings[3*l+2]
		// One-hot position: e3 = b0·b1, e1 = b0-e3, e2 = b1-e3, e0 = 1-b0-b1+e3. Every child is
		// its default sibling plus selected differences, 7 constraints per level in all.
		e3 := api.Mul(b0, b1)
		e0 := api.Add(api.Sub(1, b0, b1), e3)
		e1 := api.Sub(b0, e3)
		e2 := api.Sub(b1, e3)
		notB1 := api.Sub(1, b1) // e0 + e1
		ch0 := api.Add(s0, api.Mul(e0, api.Sub(cur, s0)))
		ch1 := api.Add(s1, api.Mul(e0, api.Sub(s0, s1)), api.Mul(e1, api.Sub(cur, s1)))
		ch2 := api.Add(s2, api.Mul(notB1, api.Sub(s1, s2)), api.Mul(e2, api.Sub(cur, s2)))
		ch3 := api.Add(s2, api.Mul(e3, api.Sub(cur, s2)))
		cur = h.node(ch0, ch1, ch2, ch3)
	}
	return cur
}

// hasherGadget computes the hashes of hash.go in a circuit.
type hasherGadget struct {
	api frontend.API
	p2  *poseidon2.Permutation
	p4  *poseidon2.Permutation
}

func newHasherGadget(api frontend.API) (*hasherGadget, error) {
	p2, err := poseidon2.NewPoseidon2FromParameters(api, 2, p2FullRounds, p2PartialRounds)
	if err != nil {
		return nil, fmt.Errorf("poseidon2 width 2: %w", err)
	}
	p4, err := poseidon2.NewPoseidon2FromParameters(api, 4, p4FullRounds, p4PartialRounds)
	if err != nil {
		return nil, fmt.Errorf("poseidon2 width 4: %w", err)
	}
	return &hasherGadget{api: api, p2: p2, p4: p4}, nil
}

func (h *hasherGadget) tagged(t fr.Element, m ...frontend.Variable) frontend.Variable {
	var tb big.Int
	t.BigInt(&tb)
	var acc frontend.Variable = &tb
	for _, v := range m {
		acc = h.p2.Compress(acc, v)
	}
	return acc
}

func (h *hasherGadget) node(c0, c1, c2, c3 frontend.Variable) frontend.Variable {
	s := []frontend.Variable{c0, c1, c2, c3}
	if err := h.p4.Permutation(s); err != nil {
		panic(err) // the slice has the permutation's width
	}
	return h.api.Add(s[0], c0)
}
