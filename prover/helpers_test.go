package prover

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// testTree is a complete 4-ary tree over leaves built natively, independent of the registry
// package, for tests of the circuit and the prover.
type testTree struct {
	depth  int
	levels [][]fr.Element // levels[0] = leaves
}

func newTestTree(t testing.TB, depth int, leaves []fr.Element) *testTree {
	t.Helper()
	tr, err := buildTestTree(depth, leaves)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func buildTestTree(depth int, leaves []fr.Element) (*testTree, error) {
	if err := CheckDepth(depth); err != nil {
		return nil, err
	}
	if n := 1 << uint(depth); len(leaves) > n {
		return nil, fmt.Errorf("%d leaves in a tree of depth %d", len(leaves), depth)
	}
	zeros := ZeroHashes(depth)
	tr := &testTree{depth: depth}
	cur := append([]fr.Element(nil), leaves...)
	tr.levels = append(tr.levels, cur)
	for l := 0; l < depth/2; l++ {
		next := make([]fr.Element, (len(cur)+Arity-1)/Arity)
		for i := range next {
			var ch [Arity]fr.Element
			for j := 0; j < Arity; j++ {
				if k := i*Arity + j; k < len(cur) {
					ch[j] = cur[k]
				} else {
					ch[j] = zeros[l]
				}
			}
			next[i] = Node(ch)
		}
		if len(next) == 0 {
			next = []fr.Element{zeros[l+1]}
		}
		tr.levels = append(tr.levels, next)
		cur = next
	}
	return tr, nil
}

func (tr *testTree) root() fr.Element { return tr.levels[len(tr.levels)-1][0] }

func (tr *testTree) path(index uint64) Path {
	zeros := ZeroHashes(tr.depth)
	p := Path{Index: index}
	idx := index
	for l := 0; l < tr.depth/2; l++ {
		base := idx / Arity * Arity
		var sib [Arity - 1]fr.Element
		j := 0
		for k := base; k < base+Arity; k++ {
			if k == idx {
				continue
			}
			if k < uint64(len(tr.levels[l])) {
				sib[j] = tr.levels[l][k]
			} else {
				sib[j] = zeros[l]
			}
			j++
		}
		p.Siblings = append(p.Siblings, sib)
		idx /= Arity
	}
	return p
}

// testValidator is a deterministic validator identity for tests.
type testValidator struct {
	secret fr.Element
	weight uint64
}

func newTestValidators(n int) []testValidator {
	vs := make([]testValidator, n)
	for i := range vs {
		var seed [32]byte
		binary.BigEndian.PutUint64(seed[:8], uint64(i))
		vs[i] = testValidator{secret: DeriveSecret(sha256.Sum256(seed[:])), weight: 32_000_000_000 + uint64(i)}
	}
	return vs
}

// testRegistry builds a tree of the given depth holding the validators' leaves in order.
func testRegistry(t testing.TB, depth int, vs []testValidator) *testTree {
	return newTestTree(t, depth, testLeaves(vs))
}

func testLeaves(vs []testValidator) []fr.Element {
	leaves := make([]fr.Element, len(vs))
	for i, v := range vs {
		leaves[i] = Leaf(IdentityCommitment(v.secret), v.weight)
	}
	return leaves
}

// testRequest is the request of validator i of tr for an epoch and a message.
func testRequest(tr *testTree, vs []testValidator, i int, epoch uint64, msg string) Request {
	return Request{
		Secret:      vs[i].secret,
		Weight:      vs[i].weight,
		Path:        tr.path(uint64(i)),
		Root:        tr.root(),
		Epoch:       epoch,
		SigningRoot: sha256.Sum256([]byte(msg)),
		MinWeight:   16_000_000_000,
		Network:     testNetwork.ID(),
	}
}

// testNetwork is the network of the tests' requests; otherNetwork shares its fork version
// and differs in the genesis validators root, as two devnets do.
var (
	testNetwork  = Network{GenesisForkVersion: [4]byte{0x10, 0, 0, 0x38}, GenesisValidatorsRoot: sha256.Sum256([]byte("test genesis"))}
	otherNetwork = Network{GenesisForkVersion: [4]byte{0x10, 0, 0, 0x38}, GenesisValidatorsRoot: sha256.Sum256([]byte("other genesis"))}
)

// testRoots is a registry's sealed roots by epoch.
type testRoots map[uint64]fr.Element

func (r testRoots) Root(epoch uint64) (fr.Element, error) {
	if root, ok := r[epoch]; ok {
		return root, nil
	}
	return fr.Element{}, fmt.Errorf("no root sealed for epoch %d", epoch)
}

// testVerifier verifies attestations of testNetwork whose registry had root tr.root() in
// the given epochs.
func testVerifier(vk *VerifyingKey, tr *testTree, epochs ...uint64) *Verifier {
	roots := testRoots{}
	for _, e := range epochs {
		roots[e] = tr.root()
	}
	return &Verifier{Key: vk, Network: testNetwork.ID(), Roots: roots}
}
