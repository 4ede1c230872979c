package registry

import (
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/prover"
)

// tree is the fixed-depth 4-ary Poseidon2 tree of leaves. Leaves are appended at increasing
// indices and never removed, so at every level the non-empty nodes are a prefix: levels[l]
// holds exactly those, and every other node is the precomputed empty-subtree hash zeros[l].
type tree struct {
	levels [][]fr.Element // levels[0] are the leaves, levels[len-1] the root level
	zeros  []fr.Element
	dirty  []uint64 // leaf indices changed since the last rehash
}

func newTree(depth int) *tree {
	n := depth/2 + 1
	return &tree{levels: make([][]fr.Element, n), zeros: prover.ZeroHashes(depth)}
}

func (t *tree) height() int { return len(t.levels) - 1 }

func (t *tree) len() uint64 { return uint64(len(t.levels[0])) }

// set writes a leaf at index, which is an existing leaf or the next free one.
func (t *tree) set(index uint64, leaf fr.Element) {
	if index == t.len() {
		t.levels[0] = append(t.levels[0], leaf)
	} else {
		t.levels[0][index] = leaf
	}
	t.dirty = append(t.dirty, index)
}

func (t *tree) node(level int, i uint64) fr.Element {
	if i < uint64(len(t.levels[level])) {
		return t.levels[level][i]
	}
	return t.zeros[level]
}

// rehash recomputes the parents of the leaves set since the last rehash, level by level, each
// parent once.
func (t *tree) rehash() {
	idx := dedupeSorted(t.dirty)
	t.dirty = t.dirty[:0]
	for l := 0; l < t.height(); l++ {
		parents := idx[:0]
		for _, i := range idx {
			p := i / prover.Arity
			if len(parents) == 0 || parents[len(parents)-1] != p {
				parents = append(parents, p)
			}
		}
		for _, p := range parents {
			var ch [prover.Arity]fr.Element
			for j := range ch {
				ch[j] = t.node(l, p*prover.Arity+uint64(j))
			}
			h := prover.Node(ch)
			if p == uint64(len(t.levels[l+1])) {
				t.levels[l+1] = append(t.levels[l+1], h)
			} else {
				t.levels[l+1][p] = h
			}
		}
		idx = parents
	}
}

func (t *tree) root() fr.Element { return t.node(t.height(), 0) }

// path returns the membership path of leaf index.
func (t *tree) path(index uint64) prover.Path {
	p := prover.Path{Index: index, Siblings: make([][prover.Arity - 1]fr.Element, t.height())}
	i := index
	for l := 0; l < t.height(); l++ {
		base := i / prover.Arity * prover.Arity
		k := 0
		for j := base; j < base+prover.Arity; j++ {
			if j == i {
				continue
			}
			p.Siblings[l][k] = t.node(l, j)
			k++
		}
		i /= prover.Arity
	}
	return p
}

// dedupeSorted sorts idx and drops repeats, in place.
func dedupeSorted(idx []uint64) []uint64 {
	if len(idx) < 2 {
		return idx
	}
	sorted := true
	for k := 1; k < len(idx); k++ {
		if idx[k] < idx[k-1] {
			sorted = false
			break
		}
	}
	if !sorted {
		slices.Sort(idx)
	}
	out := idx[:1]
	for _, v := range idx[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}
