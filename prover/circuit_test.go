package prover

import (
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// isSolved compiles circuit to R1CS and reports whether assignment satisfies every
// constraint: the constraint system that is proven, solved by gnark's solver.
func isSolved(t *testing.T, circuit, assignment frontend.Circuit) error {
	t.Helper()
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, circuit)
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(assignment, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	return ccs.IsSolved(w)
}

// hashCircuit recomputes every hash of hash.go in a circuit and compares with the values the
// native code gave.
type hashCircuit struct {
	Secret, Epoch, Weight, Network    frontend.Variable
	Children                          [Arity]frontend.Variable
	ID, LeafV, A1V, NullifierV, NodeV frontend.Variable
}

func (c *hashCircuit) Define(api frontend.API) error {
	h, err := newHasherGadget(api)
	if err != nil {
		return err
	}
	id := h.tagged(TagIdentity, c.Secret)
	api.AssertIsEqual(id, c.ID)
	api.AssertIsEqual(h.tagged(TagLeaf, id, c.Weight), c.LeafV)
	a1 := h.tagged(TagA1, c.Secret, api.Add(c.Epoch, api.Mul(c.Network, new(big.Int).Lsh(big.NewInt(1), 64))))
	api.AssertIsEqual(a1, c.A1V)
	api.AssertIsEqual(h.tagged(TagNullifier, a1), c.NullifierV)
	api.AssertIsEqual(h.node(c.Children[0], c.Children[1], c.Children[2], c.Children[3]), c.NodeV)
	return nil
}

func hashAssignment() *hashCircuit {
	var s fr.Element
	s.SetUint64(0x5eC7e7)
	const epoch, weight = 271828, 32_000_000_000
	id := IdentityCommitment(s)
	net := testNetwork.ID()
	a1 := A1(s, epoch, net)
	var ch [Arity]fr.Element
	var ci [Arity]frontend.Variable
	for i := range ch {
		ch[i].SetUint64(uint64(100 + i))
		ci[i] = ch[i]
	}
	return &hashCircuit{
		Secret: s, Epoch: epoch, Weight: weight, Network: net, Children: ci,
		ID: id, LeafV: Leaf(id, weight), A1V: a1, NullifierV: Nullifier(a1), NodeV: Node(ch),
	}
}

func TestHashesAgreeWithCircuit(t *testing.T) {
	a := hashAssignment()
	if err := isSolved(t, &hashCircuit{}, a); err != nil {
		t.Fatalf("native hashes differ from the circuit's: %v", err)
	}
	bad := *a
	var one fr.Element
	one.SetOne()
	n := bad.NullifierV.(fr.Element)
	n.Add(&n, &one)
	bad.NullifierV = n
	if err := isSolved(t, &hashCircuit{}, &bad); err == nil {
		t.Fatal("a wrong nullifier satisfied the hash circuit")
	}
}

// TestCompress2IsGnarkCompress ties compress2 to gnark-crypto's own byte-level Compress.
func TestCompress2IsGnarkCompress(t *testing.T) {
	var l, r fr.Element
	l.SetUint64(7)
	r.SetString("0x1234567890abcdef")
	lb, rb := l.Bytes(), r.Bytes()
	want, err := perm2.Compress(lb[:], rb[:])
	if err != nil {
		t.Fatal(err)
	}
	got := compress2(l, r)
	gb := got.Bytes()
	if string(gb[:]) != string(want) {
		t.Fatalf("compress2 = %x, gnark-crypto Compress = %x", gb, want)
	}
}

// TestHashKnownAnswers pins every hash to values computed once by this implementation, so a
// change of parameters, tags or construction in zkv or in a gnark-crypto upgrade shows up.
func TestHashKnownAnswers(t *testing.T) {
	var s fr.Element
	s.SetUint64(0x5eC7e7)
	id := IdentityCommitment(s)
	mainnet := Network{GenesisValidatorsRoot: mainnetGenesisValidatorsRoot}
	a1 := A1(s, 271828, mainnet.ID())
	var ch [Arity]fr.Element
	for i := range ch {
		ch[i].SetUint64(uint64(100 + i))
	}
	var root [32]byte
	for i := range root {
		root[i] = byte(i)
	}
	var blsKey [32]byte
	blsKey[31] = 1
	z := ZeroHashes(4)
	cases := []struct {
		name string
		got  fr.Element
		want string
	}{
		{"tag identity", TagIdentity, "0x00000000000000000000000000000000007a6b762f6964656e746974792f7631"},
		{"identity", id, "0x07229364ac0aaa2bfc4a6c485c577a912403b4f05e02b10e8c17aac3fe7bae15"},
		{"leaf", Leaf(id, 32_000_000_000), "0x1c2711bed8d47896fcecdffff915669f69c5d8657863e3e0e91f00190f830d48"},
		{"a1", a1, "0x28295ec608d17218a46b6a509c3b652455dd68b3f6d0836af360ac7043361644"},
		{"nullifier", Nullifier(a1), "0x01cde0397efa314e191dccd01d5b802ea465a4b6224972375476daeb8b6c8736"},
		{"node", Node(ch), "0x122c09006304b69c078436e9f762299bfaf318643fcaf7d9ce1182e915b538d8"},
		{"message x", MessageX(root), "0x26896dbfb9a2e6d6f1c80f3623aa2a98e4673238ecd567bcd001214841b16779"},
		{"zero hash level 2", z[2], "0x1d59ae248c0b4036e80a51a91454b2476e603e9252af6384edf3d823cb512968"},
		{"mainnet network id", mainnet.ID(), "0x000000000000000000b5303f2ad2010d699a76c8e62350947421a3e4a9797796"},
		{"derived secret", DeriveSecret(blsKey), "0x01c3d20371e88e6f93db2f86b9f235634b63d1c85764adbbdb1841fb4a5386bd"},
	}
	for _, c := range cases {
		if got := HexField(&c.got); got != c.want {
			t.Errorf("%s = %s, want %s", c.name, got, c.want)
		}
	}
}

// mainnetGenesisValidatorsRoot is Ethereum mainnet's genesis validators root.
var mainnetGenesisValidatorsRoot = [32]byte{
	0x4b, 0x36, 0x3d, 0xb9, 0x4e, 0x28, 0x61, 0x20, 0xd7, 0x6e, 0xb9, 0x05, 0x34, 0x0f, 0xdd, 0x4e,
	0x54, 0xbf, 0xe9, 0xf0, 0x6b, 0xf3, 0x3f, 0xf6, 0xcf, 0x5a, 0xd2, 0x7f, 0x51, 0x1b, 0xfe, 0x95,
}

// TestNetworkID checks the fork data root against mainnet's phase0 fork digest (its first
// four bytes, consensus specs compute_fork_digest: 0xb5303f2a) and that two networks with one
// fork version and different genesis validators roots get different identifiers.
func TestNetworkID(t *testing.T) {
	mainnet := Network{GenesisValidatorsRoot: mainnetGenesisValidatorsRoot}
	if r := mainnet.ForkDataRoot(); r[0] != 0xb5 || r[1] != 0x30 || r[2] != 0x3f || r[3] != 0x2a {
		t.Fatalf("mainnet fork digest %x, want b5303f2a", r[:4])
	}
	a, b := testNetwork.ID(), otherNetwork.ID()
	if a.Equal(&b) {
		t.Fatal("two genesis validators roots, one network identifier")
	}
	var nb big.Int
	if a.BigInt(&nb).BitLen() > NetworkBits {
		t.Fatalf("network identifier of %d bits", nb.BitLen())
	}
	// The same key and epoch on two networks: unrelated slopes and nullifiers.
	s := newTestValidators(1)[0].secret
	na, nbl := Nullifier(A1(s, 7, a)), Nullifier(A1(s, 7, b))
	if na.Equal(&nbl) {
		t.Fatal("one nullifier on two networks")
	}
}

func TestCircuitSize(t *testing.T) {
	// The depth-20 circuit must stay under 4096 constraints: the FFT domain, the largest MSM
	// of the prover and the proving key all double past it.
	ccs, err := compile(DefaultDepth)
	if err != nil {
		t.Fatal(err)
	}
	n := ccs.GetNbConstraints()
	if n > 4096 {
		t.Fatalf("depth-%d circuit has %d constraints, more than 4096", DefaultDepth, n)
	}
	t.Logf("depth-%d circuit: %d constraints", DefaultDepth, n)
	if len(ccs.CommitmentInfo.CommitmentIndexes()) != 0 {
		t.Fatal("circuit uses BSB22 commitments")
	}
}

func TestCircuit(t *testing.T) {
	const depth = 4
	vs := newTestValidators(9)
	tr := testRegistry(t, depth, vs)
	req := testRequest(tr, vs, 6, 12, "attestation")
	st, err := req.Statement()
	if err != nil {
		t.Fatal(err)
	}
	valid := req.assignment(&st)
	if err := isSolved(t, NewCircuit(depth), valid); err != nil {
		t.Fatalf("valid assignment not solved: %v", err)
	}

	one := big.NewInt(1)
	add1 := func(v frontend.Variable) frontend.Variable {
		e := v.(fr.Element)
		var o fr.Element
		o.SetBigInt(one)
		e.Add(&e, &o)
		return e
	}
	other := testRequest(tr, vs, 3, 12, "attestation")
	otherSt, err := other.Statement()
	if err != nil {
		t.Fatal(err)
	}
	outsider := newTestValidators(10)[9] // same derivation, never inserted
	invalid := map[string]func(c *Circuit){
		"wrong root":      func(c *Circuit) { c.Root = add1(c.Root) },
		"wrong nullifier": func(c *Circuit) { c.Nullifier = otherSt.Nullifier },
		"wrong y":         func(c *Circuit) { c.Y = add1(c.Y) },
		"wrong epoch":     func(c *Circuit) { c.Epoch = 13 },
		"wrong x":         func(c *Circuit) { c.X = add1(c.X) },
		"leaf not in tree": func(c *Circuit) {
			c.Secret = outsider.secret
		},
		"wrong weight":      func(c *Circuit) { c.Weight = vs[6].weight + 1 },
		"weight below min":  func(c *Circuit) { c.MinWeight = vs[6].weight + 1 },
		"wrong index":       func(c *Circuit) { c.Path.IndexBits[0] = 1 - c.Path.IndexBits[0].(uint64) },
		"non-boolean index": func(c *Circuit) { c.Path.IndexBits[0] = 2 },
		"wrong sibling":     func(c *Circuit) { c.Path.Siblings[4] = add1(c.Path.Siblings[4]) },
		"wrong network":     func(c *Circuit) { c.Network = otherNetwork.ID() },
		// Finding 7 of issue 13: public integers that are not 64-bit integers. r-5 passes
		// weight - minWeight < 2^64 for any weight, and a verifier reading minWeight as an
		// integer (Solidity's require(minWeight >= X)) sees a huge minimum.
		"minWeight r-5": func(c *Circuit) {
			var m fr.Element
			m.SetInt64(-5)
			c.MinWeight = m
		},
		// An epoch of 2^64 + 12 with a consistent slope, y and nullifier: without the range
		// check it packs onto another network's epoch 12 (epoch + 2^64·network).
		"epoch beyond 64 bits": func(c *Circuit) {
			var e, o fr.Element
			e.SetUint64(1 << 63)
			e.Double(&e)
			o.SetUint64(12)
			e.Add(&e, &o)
			packed := EpochNetwork(0, st.Network)
			packed.Add(&packed, &e)
			a1 := tagged(TagA1, vs[6].secret, packed)
			var y fr.Element
			y.Mul(&a1, &st.X).Add(&y, &vs[6].secret)
			c.Epoch, c.Y, c.Nullifier = e, y, Nullifier(a1)
		},
	}
	for name, mutate := range invalid {
		t.Run(name, func(t *testing.T) {
			a := req.assignment(&st)
			mutate(a)
			if err := isSolved(t, NewCircuit(depth), a); err == nil {
				t.Fatal("invalid assignment solved")
			}
		})
	}
}

// TestDeriveSecretIsRFC9380 recomputes the identity derivation with an independent
// expand_message_xmd (RFC 9380 section 5.3.1, SHA-256, L = 48) and a reduction modulo r.
func TestDeriveSecretIsRFC9380(t *testing.T) {
	for _, key := range [][32]byte{{31: 1}, {0: 0x5a, 17: 0x77, 31: 0x03}} {
		dst := []byte(IdentityDST)
		dstPrime := append(append([]byte(nil), dst...), byte(len(dst)))
		const L = 48
		msgPrime := make([]byte, 0, 64+32+3+len(dstPrime))
		msgPrime = append(msgPrime, make([]byte, 64)...) // Z_pad, SHA-256 block size
		msgPrime = append(msgPrime, key[:]...)
		msgPrime = append(msgPrime, 0, L, 0) // I2OSP(L, 2) || I2OSP(0, 1)
		msgPrime = append(msgPrime, dstPrime...)
		b0 := sha256.Sum256(msgPrime)
		b1 := sha256.Sum256(append(append(b0[:], 1), dstPrime...))
		x := make([]byte, 32)
		for i := range x {
			x[i] = b0[i] ^ b1[i]
		}
		b2 := sha256.Sum256(append(append(x, 2), dstPrime...))
		uniform := append(b1[:], b2[:16]...)
		want := new(big.Int).Mod(new(big.Int).SetBytes(uniform), fr.Modulus())
		got := DeriveSecret(key)
		var gotInt big.Int
		got.BigInt(&gotInt)
		if gotInt.Cmp(want) != 0 {
			t.Fatalf("DeriveSecret(%x) = %s, independent RFC 9380 = %s", key, gotInt.String(), want.String())
		}
	}
}
