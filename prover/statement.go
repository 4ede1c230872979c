package prover

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
)

// Statement is the public part of a private attestation proof.
type Statement struct {
	Root      fr.Element // registry root of the epoch
	Epoch     uint64
	X         fr.Element // MessageX of the attestation's signing root
	Y         fr.Element // s + a1·x
	Nullifier fr.Element // H(TAG_N, a1), one per validator and epoch
	MinWeight uint64     // the proof shows weight >= MinWeight
	Network   fr.Element // Network.ID of the chain the attestation is for
}

// Public returns the public inputs in circuit order.
func (s *Statement) Public() [NumPublic]fr.Element {
	var p [NumPublic]fr.Element
	p[0] = s.Root
	p[1].SetUint64(s.Epoch)
	p[2] = s.X
	p[3] = s.Y
	p[4] = s.Nullifier
	p[5].SetUint64(s.MinWeight)
	p[6] = s.Network
	return p
}

// StatementFromPublic is the inverse of Public. It refuses an epoch or minimum weight that
// does not fit in 64 bits (the circuit proves none) and a network identifier of more than
// NetworkBits.
func StatementFromPublic(p [NumPublic]fr.Element) (Statement, error) {
	epoch, err := toUint64(&p[1])
	if err != nil {
		return Statement{}, fmt.Errorf("%w: epoch: %v", ErrMalformed, err)
	}
	minWeight, err := toUint64(&p[5])
	if err != nil {
		return Statement{}, fmt.Errorf("%w: min weight: %v", ErrMalformed, err)
	}
	var nb big.Int
	if p[6].BigInt(&nb).BitLen() > NetworkBits {
		return Statement{}, fmt.Errorf("%w: network identifier of %d bits, want at most %d", ErrMalformed, nb.BitLen(), NetworkBits)
	}
	return Statement{Root: p[0], Epoch: epoch, X: p[2], Y: p[3], Nullifier: p[4], MinWeight: minWeight, Network: p[6]}, nil
}

func toUint64(e *fr.Element) (uint64, error) {
	if !e.IsUint64() {
		return 0, fmt.Errorf("%s does not fit in 64 bits", decimalFr(e))
	}
	return e.Uint64(), nil
}

// Path is a membership path in the 4-ary registry tree of some depth.
type Path struct {
	Index    uint64
	Siblings [][Arity - 1]fr.Element // one entry per level, leaf level first, child order
}

// Depth returns the depth of the tree the path belongs to.
func (p *Path) Depth() int { return 2 * len(p.Siblings) }

// Root hashes leaf up the path.
func (p *Path) Root(leaf fr.Element) fr.Element {
	cur := leaf
	idx := p.Index
	for l := range p.Siblings {
		pos := int(idx % Arity)
		idx /= Arity
		var ch [Arity]fr.Element
		for i, j := 0, 0; i < Arity; i++ {
			if i == pos {
				ch[i] = cur
				continue
			}
			ch[i] = p.Siblings[l][j]
			j++
		}
		cur = Node(ch)
	}
	return cur
}

// Request is what a validator proves for one attestation.
type Request struct {
	Secret      fr.Element // DeriveSecret of the validator's BLS key
	Weight      uint64     // the weight registered in the validator's leaf
	Path        Path       // the leaf's path in the registry of Epoch
	Root        fr.Element // the registry root of Epoch; the path must lead to it
	Epoch       uint64
	SigningRoot [32]byte // the attestation's signing root
	MinWeight   uint64
	Network     fr.Element // Network.ID of the chain
}

// Statement computes the public part of the proof of r. It fails with ErrNotMember when the
// leaf's path does not lead to r.Root and with ErrBadInput when the weight is below the
// minimum or the path does not fit its depth.
func (r *Request) Statement() (Statement, error) {
	if err := CheckDepth(r.Path.Depth()); err != nil {
		return Statement{}, err
	}
	if r.Path.Index>>uint(r.Path.Depth()) != 0 {
		return Statement{}, fmt.Errorf("%w: leaf index %d outside a tree of depth %d", ErrBadInput, r.Path.Index, r.Path.Depth())
	}
	if r.Weight < r.MinWeight {
		return Statement{}, fmt.Errorf("%w: weight %d below the minimum %d", ErrBadInput, r.Weight, r.MinWeight)
	}
	leaf := Leaf(IdentityCommitment(r.Secret), r.Weight)
	if root := r.Path.Root(leaf); !root.Equal(&r.Root) {
		return Statement{}, fmt.Errorf("%w: path of leaf %d leads to %s, want root %s", ErrNotMember, r.Path.Index, HexField(&root), HexField(&r.Root))
	}
	x := MessageX(r.SigningRoot)
	var nb big.Int
	if r.Network.BigInt(&nb).BitLen() > NetworkBits {
		return Statement{}, fmt.Errorf("%w: network identifier of %d bits, want at most %d", ErrBadInput, nb.BitLen(), NetworkBits)
	}
	a1 := A1(r.Secret, r.Epoch, r.Network)
	var y fr.Element
	y.Mul(&a1, &x).Add(&y, &r.Secret)
	return Statement{
		Root:      r.Root,
		Epoch:     r.Epoch,
		X:         x,
		Y:         y,
		Nullifier: Nullifier(a1),
		MinWeight: r.MinWeight,
		Network:   r.Network,
	}, nil
}

// assignment returns the full circuit assignment of r for statement st.
func (r *Request) assignment(st *Statement) *Circuit {
	depth := r.Path.Depth()
	c := NewCircuit(depth)
	pub := st.Public()
	c.Root, c.Epoch, c.X, c.Y, c.Nullifier, c.MinWeight, c.Network = pub[0], pub[1], pub[2], pub[3], pub[4], pub[5], pub[6]
	c.Secret = r.Secret
	c.Weight = new(big.Int).SetUint64(r.Weight)
	for i := 0; i < depth; i++ {
		c.Path.IndexBits[i] = (r.Path.Index >> uint(i)) & 1
	}
	for l := range r.Path.Siblings {
		for j := 0; j < Arity-1; j++ {
			c.Path.Siblings[3*l+j] = r.Path.Siblings[l][j]
		}
	}
	return c
}

// publicAssignment returns the public-only assignment of st, for gnark's verifier.
func publicAssignment(st *Statement, depth int) *Circuit {
	c := NewCircuit(depth)
	pub := st.Public()
	c.Root, c.Epoch, c.X, c.Y, c.Nullifier, c.MinWeight, c.Network = pub[0], pub[1], pub[2], pub[3], pub[4], pub[5], pub[6]
	return c
}

var _ frontend.Circuit = (*Circuit)(nil)

// HexField writes a field element as 0x-prefixed big-endian hex (32 bytes).
func HexField(e *fr.Element) string {
	b := e.Bytes()
	return fmt.Sprintf("0x%x", b[:])
}
