package prover

import (
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Two proofs of the same request are different points (the rerandomization draws fresh
// randomness each time) and both verify, with gnark's verifier and this package's.
func TestRerandProofsOfOneRequestDiffer(t *testing.T) {
	keys := mustKeys(t)
	vk := keys.VerifyingKey()
	vs := newTestValidators(3)
	tr := testRegistry(t, 4, vs)
	p := mustProver(t)
	req := testRequest(tr, vs, 2, 40, "twice")
	var proofs [2]*Proof
	for i := range proofs {
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		if err := vk.VerifyGnark(proof, &st); err != nil {
			t.Fatalf("proof %d: gnark rejects it: %v", i, err)
		}
		if err := vk.VerifyPairing(proof, &st); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
		proofs[i] = proof
	}
	a, b := proofs[0], proofs[1]
	if a.A.Equal(&b.A) || a.B.Equal(&b.B) || a.C.Equal(&b.C) {
		t.Fatal("two proofs of one request share a point")
	}
}

// The proof without randomizers verifies; rerandomized with chosen r₁, r₂ it still verifies,
// and its points are exactly A₀/r₁, r₁·B₀ + r₁r₂·δ and C₀ + r₂·A₀.
func TestRerandOfBaseProof(t *testing.T) {
	keys := mustKeys(t)
	vk := keys.VerifyingKey()
	pk := keys.pk
	vs := newTestValidators(4)
	tr := testRegistry(t, 4, vs)
	p := mustProver(t)
	req := testRequest(tr, vs, 1, 9, "base")
	sc := p.scratch.Get().(*scratch)
	base, st, err := p.proveBase(&req, sc)
	p.scratch.Put(sc)
	if err != nil {
		t.Fatal(err)
	}
	var a0, c0 bn254.G1Affine
	var b0 bn254.G2Affine
	a0.FromJacobian(&base.a)
	b0.FromJacobian(&base.b)
	c0.FromJacobian(&base.c)
	plain := &Proof{A: a0, B: b0, C: c0}
	if err := vk.VerifyPairing(plain, &st); err != nil {
		t.Fatalf("proof without randomizers: %v", err)
	}
	if err := vk.VerifyGnark(plain, &st); err != nil {
		t.Fatalf("proof without randomizers, gnark: %v", err)
	}

	var big1, big2, random fr.Element
	big1.SetBigInt(new(big.Int).Lsh(big.NewInt(1), 200))
	big2.SetInt64(-3)
	if _, err := random.SetRandom(); err != nil {
		t.Fatal(err)
	}
	pairs := []struct {
		name   string
		r1, r2 fr.Element
	}{
		{"identity", fr.One(), fr.Element{}},
		{"small", fr.NewElement(7), fr.NewElement(11)},
		{"large", big1, big2},
		{"random", random, big1},
	}
	for _, c := range pairs {
		proof, err := rerandomize(base, &pk.G1.Delta, &pk.G2.Delta, &c.r1, &c.r2)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := vk.VerifyPairing(proof, &st); err != nil {
			t.Fatalf("%s: rerandomized proof: %v", c.name, err)
		}
		if err := vk.VerifyGnark(proof, &st); err != nil {
			t.Fatalf("%s: rerandomized proof, gnark: %v", c.name, err)
		}
		// A = r₁⁻¹·A₀, checked the other way round: r₁·A = A₀.
		var back bn254.G1Affine
		back.ScalarMultiplication(&proof.A, frBig(&c.r1))
		if !back.Equal(&a0) {
			t.Fatalf("%s: r₁·A ≠ A₀", c.name)
		}
		var r1r2 fr.Element
		r1r2.Mul(&c.r1, &c.r2)
		var wantB, t2 bn254.G2Affine
		wantB.ScalarMultiplication(&b0, frBig(&c.r1))
		t2.ScalarMultiplication(&pk.G2.Delta, frBig(&r1r2))
		wantB.Add(&wantB, &t2)
		if !proof.B.Equal(&wantB) {
			t.Fatalf("%s: B ≠ r₁·B₀ + r₁r₂·δ", c.name)
		}
		var wantC, t1 bn254.G1Affine
		t1.ScalarMultiplication(&a0, frBig(&c.r2))
		wantC.Add(&c0, &t1)
		if !proof.C.Equal(&wantC) {
			t.Fatalf("%s: C ≠ C₀ + r₂·A₀", c.name)
		}
	}

	var zero, one fr.Element
	one.SetOne()
	if _, err := rerandomize(base, &pk.G1.Delta, &pk.G2.Delta, &zero, &one); err == nil {
		t.Fatal("rerandomization by r₁ = 0 accepted")
	}
}

func frBig(e *fr.Element) *big.Int {
	var b big.Int
	return e.BigInt(&b)
}

// A base proof whose A₀ is at infinity is valid only when e(α, β)·e(vk_x, γ)·e(C₀, δ) = 1,
// which no real setup lets anyone arrange. This test makes it with a verifying key of known
// discrete logarithms, and checks that rerandomize turns it into a proof that verifies, not
// into one with A at infinity.
func TestRerandDegenerateA(t *testing.T) {
	var alpha, beta, gamma, delta fr.Element
	for _, e := range []*fr.Element{&alpha, &beta, &gamma, &delta} {
		if _, err := e.SetRandom(); err != nil {
			t.Fatal(err)
		}
	}
	_, _, g1, g2 := bn254.Generators()
	mul1 := func(s *fr.Element) bn254.G1Affine {
		var p bn254.G1Affine
		return *p.ScalarMultiplication(&g1, frBig(s))
	}
	mul2 := func(s *fr.Element) bn254.G2Affine {
		var p bn254.G2Affine
		return *p.ScalarMultiplication(&g2, frBig(s))
	}
	gvk := &groth16bn254.VerifyingKey{}
	gvk.G1.Alpha, gvk.G1.Beta, gvk.G1.Delta = mul1(&alpha), mul1(&beta), mul1(&delta)
	gvk.G2.Beta, gvk.G2.Gamma, gvk.G2.Delta = mul2(&beta), mul2(&gamma), mul2(&delta)
	ks := make([]fr.Element, NumPublic+1)
	for i := range ks {
		if _, err := ks[i].SetRandom(); err != nil {
			t.Fatal(err)
		}
		gvk.G1.K = append(gvk.G1.K, mul1(&ks[i]))
	}
	vk, err := newVerifyingKey(gvk)
	if err != nil {
		t.Fatal(err)
	}

	// A real statement; vk_x = l·[1]₁ with l = k₀ + Σ pubⱼ·kⱼ₊₁.
	vs := newTestValidators(2)
	tr := testRegistry(t, 4, vs)
	req := testRequest(tr, vs, 0, 3, "degenerate")
	st, err := req.Statement()
	if err != nil {
		t.Fatal(err)
	}
	l := ks[0]
	pub := st.Public()
	for j := range pub {
		var term fr.Element
		term.Mul(&pub[j], &ks[j+1])
		l.Add(&l, &term)
	}
	// c₀ = -(αβ + lγ)/δ, so that a₀·b₀ = αβ + lγ + c₀δ with a₀ = 0.
	var c0, t1, dinv fr.Element
	c0.Mul(&alpha, &beta)
	t1.Mul(&l, &gamma)
	c0.Add(&c0, &t1).Neg(&c0)
	dinv.Inverse(&delta)
	c0.Mul(&c0, &dinv)

	var b0 fr.Element
	if _, err := b0.SetRandom(); err != nil {
		t.Fatal(err)
	}
	base := &baseProof{}
	base.a.FromAffine(&bn254.G1Affine{}) // infinity
	c0p, b0p := mul1(&c0), mul2(&b0)
	base.c.FromAffine(&c0p)
	base.b.FromAffine(&b0p)
	// The construction is right: e(α, β)·e(vk_x, γ)·e(C₀, δ) = 1.
	lp := mul1(&l)
	if ok, err := bn254.PairingCheck(
		[]bn254.G1Affine{gvk.G1.Alpha, lp, c0p},
		[]bn254.G2Affine{gvk.G2.Beta, gvk.G2.Gamma, gvk.G2.Delta}); err != nil || !ok {
		t.Fatalf("the degenerate base proof does not satisfy the equation (%v)", err)
	}

	for i := 0; i < 2; i++ {
		var r1, r2 fr.Element
		if _, err := r1.SetRandom(); err != nil {
			t.Fatal(err)
		}
		if _, err := r2.SetRandom(); err != nil {
			t.Fatal(err)
		}
		proof, err := rerandomize(base, &gvk.G1.Delta, &gvk.G2.Delta, &r1, &r2)
		if err != nil {
			t.Fatal(err)
		}
		if proof.A.IsInfinity() {
			t.Fatal("degenerate A₀ gave an A at infinity")
		}
		if err := vk.VerifyPairing(proof, &st); err != nil {
			t.Fatalf("rerandomized degenerate proof: %v", err)
		}
		if err := vk.VerifyGnark(proof, &st); err != nil {
			t.Fatalf("rerandomized degenerate proof, gnark: %v", err)
		}
	}
}

// An entry of version 1 (with the G1 sums of B, from a prover before the rerandomization) is
// refused with ErrCacheMismatch, the error callers drop a stale entry on, and leaves the
// cache as it was; the validator's next proof writes a version-2 entry that imports.
func TestRerandCacheRefusesVersion1(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(2)
	tr := testRegistry(t, 4, vs)
	a := mustProver(t)
	req := testRequest(tr, vs, 1, 5, "v1")
	if _, _, err := a.Prove(&req); err != nil {
		t.Fatal(err)
	}
	id := IdentityCommitment(vs[1].secret)
	v2, err := a.ExportCache(id)
	if err != nil {
		t.Fatal(err)
	}
	if v2[len(entryMagic)] != 2 {
		t.Fatalf("exported entry of version %d, want 2", v2[len(entryMagic)])
	}
	v1ID := keysIDOf(keys, a.layout, 1)
	if v1ID == a.KeysID() {
		t.Fatal("the keys IDs of versions 1 and 2 are equal")
	}

	// Version 1 as the earlier prover wrote it: a b1 point between a and k in every group.
	g1 := bn254.G1Affine{}
	g1.X.SetOne()
	g1.Y.SetUint64(2) // (1, 2), the generator: any point on the curve will do
	v1 := encodeV1(t, v2, v1ID, g1)
	if len(v1) != len(v2)+len(a.layout.groups)*bn254.SizeOfG1AffineUncompressed {
		t.Fatalf("version-1 entry of %d bytes for a version-2 one of %d", len(v1), len(v2))
	}
	// Its version byte forged to 2 (checksum recomputed): the keys ID still refuses it.
	forged := append([]byte(nil), v1[:len(v1)-sha256.Size]...)
	forged[len(entryMagic)] = 2
	sum := sha256.Sum256(forged)
	forged = append(forged, sum[:]...)

	b, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string][]byte{"version 1": v1, "forged version": forged} {
		if _, err := b.ImportCache(e); !errors.Is(err, ErrCacheMismatch) {
			t.Fatalf("%s: import = %v, want ErrCacheMismatch", name, err)
		}
	}
	if n := b.cache.Len(); n != 0 {
		t.Fatalf("refused imports left %d entries", n)
	}

	// The dropped entry is recomputed by the next proof, and its export imports.
	next := testRequest(tr, vs, 1, 6, "v2")
	proof, st, err := b.Prove(&next)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.VerifyingKey().VerifyPairing(proof, &st); err != nil {
		t.Fatal(err)
	}
	fresh, err := b.ExportCache(id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportCache(fresh); err != nil {
		t.Fatalf("import of the recomputed entry: %v", err)
	}
}

// encodeV1 rewrites a version-2 entry in the version-1 format: version byte 1, the given keys
// ID, and the G1 point b1 after each group's a.
func encodeV1(t *testing.T, v2 []byte, id [32]byte, b1 bn254.G1Affine) []byte {
	t.Helper()
	if !b1.IsOnCurve() {
		t.Fatal("b1 off the curve")
	}
	head := v2[:cacheHeaderSize]
	body := v2[cacheHeaderSize : len(v2)-sha256.Size]
	if len(body)%cacheGroupSize != 0 {
		t.Fatalf("entry body of %d bytes", len(body))
	}
	out := append([]byte(nil), head[:len(entryMagic)]...)
	out = append(out, 1)
	out = append(out, id[:]...)
	out = append(out, head[len(entryMagic)+1+32:]...)
	raw := b1.RawBytes()
	g1 := bn254.SizeOfG1AffineUncompressed
	for ; len(body) > 0; body = body[cacheGroupSize:] {
		out = append(out, body[:32+g1]...) // digest, a
		out = append(out, raw[:]...)       // b1
		out = append(out, body[32+g1:cacheGroupSize]...)
	}
	sum := sha256.Sum256(out)
	return append(out, sum[:]...)
}
