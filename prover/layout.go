package prover

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sort"
	"unsafe"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
)

// A Groth16 proof's A, B and C points are sums over the witness wires: Σ wᵢ·Aᵢ, Σ wᵢ·Bᵢ (in
// G1 and G2) and Σ wᵢ·Kᵢ, plus the quotient term and the randomizers. For one validator most
// wires do not change from one epoch to the next: the identity, the leaf and every tree level
// the registry's changes did not reach. The layout splits the wires into groups that change
// together, so the prover can keep each group's partial sums per validator and recompute
// only the groups whose wire values differ from last time.
//
// Groups are found once per circuit by experiment: a random valid witness is solved, then
// solved again with one input class changed (the epoch, the message, the minimum weight, the
// siblings of one tree level), and each wire is labelled with the classes that changed it.
// Grouping never affects correctness: the prover reuses a group's sums only when a digest of
// the group's current wire values equals the digest the sums were computed from.
type layout struct {
	nbWires  int
	nbPublic int
	groups   []wireGroup
	// Tables of every wire's bases, for the groups whose sums are not kept: their MSMs share
	// bucket sets and one reduction per sum, so a wider window than a group's own pays.
	full tableSet
}

// A tableSet holds the fixed-base tables of one set of wires, all of one window size so that
// a wire's digits serve all three.
type tableSet struct {
	c          uint
	aTab, kTab *fixedBaseG1
	b2Tab      *fixedBaseG2
}

// wireRows are a wire's rows in a tableSet's A, B (in G2) and K tables, -1 where the
// wire has no base there.
type wireRows struct{ a, b, k int32 }

type wireGroup struct {
	label    uint64 // bit set of input classes that change the group's wires
	volatile bool   // changes with every attestation: never cached
	shared   bool   // a tree level above the lowest: the same for validators under one node
	wires    []int  // every wire of the group, for the digest

	// The group's own tables (groups whose sums are kept, when the prover keeps any), and the
	// rows of each of its wires in them and in the layout's full tables.
	own               tableSet
	ownRows, fullRows []wireRows
}

// Input classes of the experiment. Levels take the bits from classLevel0 up.
const (
	classEpoch = iota
	classMessage
	classMinWeight
	classLevel0
)

// With ownTables, it builds the tables of every group whose sums can be kept; without, only
// the full tables (a prover without a cache merges every group).
func newLayout(k *Keys, ownTables bool) (*layout, error) {
	ccs, pk := k.ccs, k.pk
	l := &layout{
		nbWires:  ccs.GetNbPublicVariables() + ccs.GetNbSecretVariables() + ccs.GetNbInternalVariables(),
		nbPublic: ccs.GetNbPublicVariables(),
	}
	labels := make([]uint64, l.nbWires)
	// Two independent experiments, so a wire that keeps its value by chance in one is still
	// labelled by the other. Their witnesses come from fixed seeds: a wire can keep its value
	// by chance (a bit of the epoch that an increment does not flip), so random witnesses could
	// label the same circuit differently in two processes, and a cache entry exported by one
	// (ExportCache) would not fit the other's groups after a restart.
	for trial := 0; trial < 2; trial++ {
		if err := labelWires(ccs, k.depth, labels, rand.New(rand.NewChaCha8(layoutSeed(trial)))); err != nil {
			return nil, fmt.Errorf("wire layout: %w", err)
		}
	}

	// Positions of each wire in the filtered bases of the proving key: gnark drops the wires
	// whose A (or B) polynomial is zero at τ from G1.A (G1.B, G2.B).
	aPos, bPos := filteredPositions(pk.InfinityA), filteredPositions(pk.InfinityB)

	type bases struct {
		a, k []bn254.G1Affine
		b2   []bn254.G2Affine
	}
	byLabel := map[uint64]*wireGroup{}
	groupBases := map[uint64]*bases{}
	for w := 0; w < l.nbWires; w++ {
		g := byLabel[labels[w]]
		if g == nil {
			g = &wireGroup{
				label:    labels[w],
				volatile: labels[w]&(1<<classEpoch|1<<classMessage) != 0,
			}
			// Wires the siblings of level 1 or above change, and nothing of the validator's
			// own: the leaf and the lowest level's siblings change them too, but so they
			// do for every validator under the same node, whose wires of these levels are
			// the same (see sharedSums).
			g.shared = !g.volatile && labels[w]>>(classLevel0+1) != 0
			byLabel[labels[w]] = g
			groupBases[labels[w]] = &bases{}
		}
		gb := groupBases[labels[w]]
		g.wires = append(g.wires, w)
		if !pk.InfinityA[w] {
			gb.a = append(gb.a, pk.G1.A[aPos[w]])
		}
		if !pk.InfinityB[w] {
			gb.b2 = append(gb.b2, pk.G2.B[bPos[w]])
		}
		if w >= l.nbPublic {
			gb.k = append(gb.k, pk.G1.K[w-l.nbPublic])
		}
	}
	for label, g := range byLabel {
		gb := groupBases[label]
		if ownTables && !g.volatile {
			g.own = newTableSet(gb.a, gb.k, gb.b2, windowBits(max(len(gb.a), len(gb.b2), len(gb.k))))
		}
		var ia, ib, ik int32
		for _, w := range g.wires {
			own, full := wireRows{-1, -1, -1}, wireRows{-1, -1, -1}
			if !pk.InfinityA[w] {
				own.a, full.a = ia, int32(aPos[w])
				ia++
			}
			if !pk.InfinityB[w] {
				own.b, full.b = ib, int32(bPos[w])
				ib++
			}
			if w >= l.nbPublic {
				own.k, full.k = ik, int32(w-l.nbPublic)
				ik++
			}
			g.ownRows = append(g.ownRows, own)
			g.fullRows = append(g.fullRows, full)
		}
		l.groups = append(l.groups, *g)
	}
	l.full = newTableSet(pk.G1.A, pk.G1.K, pk.G2.B, fullWindowBits)
	sort.Slice(l.groups, func(i, j int) bool { return l.groups[i].wires[0] < l.groups[j].wires[0] })
	return l, nil
}

func filteredPositions(infinity []bool) []int {
	pos := make([]int, len(infinity))
	n := 0
	for i, inf := range infinity {
		pos[i] = n
		if !inf {
			n++
		}
	}
	return pos
}

// labelWires solves a random witness and its variants and ORs, into labels, the classes
// whose change changed each wire.
func labelWires(ccs *cs.R1CS, depth int, labels []uint64, rng *rand.Rand) error {
	base, err := randomRequest(depth, rng)
	if err != nil {
		return err
	}
	w0, err := solveWires(ccs, base)
	if err != nil {
		return err
	}
	variants := map[int]func(r *Request) error{
		// Every bit of the epoch changes: an increment flips only its low bits, and the wires of
		// the bits it left alone (the epoch's range check) would look fixed, fall into a cached
		// group and have that group recomputed at each epoch that flips them after all.
		classEpoch:     func(r *Request) error { r.Epoch = ^r.Epoch; return nil },
		classMessage:   func(r *Request) error { r.SigningRoot[0] ^= 1; return nil },
		classMinWeight: func(r *Request) error { r.MinWeight++; return nil },
	}
	for lvl := 0; lvl < depth/2; lvl++ {
		variants[classLevel0+lvl] = func(r *Request) error {
			r.Path.Siblings = append([][Arity - 1]fr.Element(nil), r.Path.Siblings...)
			for j := range r.Path.Siblings[lvl] {
				randomField(&r.Path.Siblings[lvl][j], rng)
			}
			r.Root = r.Path.Root(Leaf(IdentityCommitment(r.Secret), r.Weight))
			return nil
		}
	}
	for class, change := range variants {
		r := *base
		if err := change(&r); err != nil {
			return err
		}
		w, err := solveWires(ccs, &r)
		if err != nil {
			return err
		}
		for i := range w {
			if !w[i].Equal(&w0[i]) {
				labels[i] |= 1 << uint(class)
			}
		}
	}
	return nil
}

// randomRequest returns a valid request for a random validator at a random place in a tree
// of random siblings, leaving room for the minimum-weight variant.
func randomRequest(depth int, rng *rand.Rand) (*Request, error) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	r := &Request{
		Secret:    DeriveSecret(seed),
		Weight:    32_000_000_000,
		MinWeight: 1_000_000_000,
		Epoch:     uint64(seed[0]) + 1,
		Path:      Path{Index: uint64(seed[1]) % (1 << uint(depth))},
	}
	copy(r.SigningRoot[:], seed[2:])
	r.Network.SetBytes(seed[:NetworkBits/8])
	r.Path.Siblings = make([][Arity - 1]fr.Element, depth/2)
	for l := range r.Path.Siblings {
		for j := range r.Path.Siblings[l] {
			randomField(&r.Path.Siblings[l][j], rng)
		}
	}
	r.Root = r.Path.Root(Leaf(IdentityCommitment(r.Secret), r.Weight))
	return r, nil
}

// randomField sets e to a pseudo-random field element of rng.
func randomField(e *fr.Element, rng *rand.Rand) {
	var b [fr.Bytes]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	e.SetBytes(b[:])
}

// layoutSeed is the fixed seed of the layout's experiment trial.
func layoutSeed(trial int) [32]byte {
	return sha256.Sum256([]byte(fmt.Sprintf("zkv/prover/layout/v1/trial-%d", trial)))
}

func solveWires(ccs *cs.R1CS, r *Request) (fr.Vector, error) {
	st, err := r.Statement()
	if err != nil {
		return nil, err
	}
	wit, err := frontend.NewWitness(r.assignment(&st), ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	sol, err := ccs.Solve(wit, solver.WithNbTasks(1))
	if err != nil {
		return nil, err
	}
	return sol.(*cs.R1CSSolution).W, nil
}

// fullWindowBits is the window of the full tables. A proof's merged sums share three bucket
// sets (A, K with the quotient, B₂), reduced together in segments, so the window can be wider
// than a single MSM of their size would take. At depth 20 a cold proof on one core took 60 ms
// at c = 12, 48 ms at 13 and 59 ms at 14.
const fullWindowBits = 13

func newTableSet(a, k []bn254.G1Affine, b2 []bn254.G2Affine, c uint) tableSet {
	return tableSet{
		c:     c,
		aTab:  newFixedBaseG1(a, c),
		kTab:  newFixedBaseG1(k, c),
		b2Tab: newFixedBaseG2(b2, c),
	}
}

// bytes is the memory of the set's tables.
func (t *tableSet) bytes() int {
	if t.aTab == nil {
		return 0
	}
	return (len(t.aTab.table)+len(t.kTab.table))*int(unsafe.Sizeof(bn254.G1Affine{})) + len(t.b2Tab.table)*int(unsafe.Sizeof(bn254.G2Affine{}))
}

// tableBytes is the memory of the layout's tables: the full ones and the groups' own.
func (l *layout) tableBytes() int {
	n := l.full.bytes()
	for i := range l.groups {
		n += l.groups[i].own.bytes()
	}
	return n
}
