package prover

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"
)

// testClaims are 12 valid depth-4 claims: 6 validators in two epochs.
var testClaims = sync.OnceValues(func() ([]Claim, error) {
	p, err := testProver()
	if err != nil {
		return nil, err
	}
	vs := newTestValidators(6)
	tr, err := buildTestTree(4, testLeaves(vs))
	if err != nil {
		return nil, err
	}
	var reqs []Request
	for epoch := uint64(7); epoch <= 8; epoch++ {
		for i := range vs {
			reqs = append(reqs, testRequest(tr, vs, i, epoch, "head vote"))
		}
	}
	res, err := p.ProveMany(context.Background(), reqs)
	if err != nil {
		return nil, err
	}
	claims := make([]Claim, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		claims[i] = Claim{Proof: *r.Proof, Statement: r.Statement}
	}
	return claims, nil
})

func mustClaims(t *testing.T) []Claim {
	t.Helper()
	c, err := testClaims()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(c)
}

func TestBatchVerify(t *testing.T) {
	vk := mustKeys(t).VerifyingKey()
	claims := mustClaims(t)
	if err := vk.BatchVerifyPairing(claims); err != nil {
		t.Fatalf("valid batch rejected: %v", err)
	}
	if bad, err := vk.FindInvalid(claims); err != nil || len(bad) != 0 {
		t.Fatalf("FindInvalid on a valid batch = %v, %v", bad, err)
	}
	// Nothing to verify is not a verified batch.
	for _, empty := range [][]Claim{nil, {}} {
		if err := vk.BatchVerifyPairing(empty); !errors.Is(err, ErrBadInput) {
			t.Fatalf("empty batch = %v, want ErrBadInput", err)
		}
	}

	var one = claims[0].Statement.Y
	one.SetOne()
	cases := map[string]struct {
		spoil func(c []Claim)
		bad   []int
	}{
		"one wrong y": {func(c []Claim) { c[5].Statement.Y.Add(&c[5].Statement.Y, &one) }, []int{5}},
		"swapped proofs": {func(c []Claim) {
			c[2].Proof, c[9].Proof = c[9].Proof, c[2].Proof
		}, []int{2, 9}},
		"wrong root":  {func(c []Claim) { c[0].Statement.Root.Add(&c[0].Statement.Root, &one) }, []int{0}},
		"wrong epoch": {func(c []Claim) { c[11].Statement.Epoch++ }, []int{11}},
		"wrong nullifier": {func(c []Claim) {
			c[3].Statement.Nullifier = c[4].Statement.Nullifier
		}, []int{3}},
		"proof point moved": {func(c []Claim) {
			_, _, g1, _ := bn254.Generators()
			c[7].Proof.A.Add(&c[7].Proof.A, &g1)
		}, []int{7}},
		"A at infinity": {func(c []Claim) { c[1].Proof.A = bn254.G1Affine{} }, []int{1}},
		"all bad": {func(c []Claim) {
			for i := range c {
				c[i].Statement.MinWeight++
			}
		}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustClaims(t)
			tc.spoil(c)
			if err := vk.BatchVerifyPairing(c); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("BatchVerify = %v, want ErrInvalidProof", err)
			}
			bad, err := vk.FindInvalid(c)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(bad, tc.bad) {
				t.Fatalf("FindInvalid = %v, want %v", bad, tc.bad)
			}
		})
	}
}

func TestProofEncoding(t *testing.T) {
	vk := mustKeys(t).VerifyingKey()
	c := mustClaims(t)[0]
	b := c.Proof.Bytes()
	p, err := ProofFromBytes(b[:])
	if err != nil {
		t.Fatal(err)
	}
	if *p != c.Proof {
		t.Fatal("proof changed in a round trip")
	}
	if err := vk.VerifyPairing(p, &c.Statement); err != nil {
		t.Fatal(err)
	}

	if _, err := ProofFromBytes(b[:ProofSize-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short proof: %v", err)
	}
	inf := c.Proof
	inf.C = bn254.G1Affine{}
	ib := inf.Bytes()
	if _, err := ProofFromBytes(ib[:]); !errors.Is(err, ErrMalformed) {
		t.Errorf("C at infinity: %v", err)
	}
	// A point on the twist that is not in G2: the cofactor of BN254's G2 is not 1, so a point
	// found by solving the curve equation is almost never in the subgroup.
	outside := c.Proof
	outside.B = twistPointOutsideG2(t)
	ob := outside.Bytes()
	if _, err := ProofFromBytes(ob[:]); !errors.Is(err, ErrMalformed) {
		t.Errorf("B outside G2: %v", err)
	}
	if err := vk.VerifyPairing(&outside, &c.Statement); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify with B outside G2: %v", err)
	}
}

func twistPointOutsideG2(t *testing.T) bn254.G2Affine {
	_, _, _, g2 := bn254.Generators()
	var b, x bn254.E2
	// b' = y² - x³ of the generator
	var y2, x3 bn254.E2
	y2.Square(&g2.Y)
	x3.Square(&g2.X).Mul(&x3, &g2.X)
	b.Sub(&y2, &x3)
	for i := uint64(1); i < 1000; i++ {
		x.A0.SetUint64(i)
		x.A1.SetUint64(3)
		var rhs bn254.E2
		rhs.Square(&x).Mul(&rhs, &x).Add(&rhs, &b)
		if rhs.Legendre() != 1 {
			continue
		}
		var p bn254.G2Affine
		p.X = x
		p.Y.Sqrt(&rhs)
		if p.IsOnCurve() && !p.IsInSubGroup() {
			return p
		}
	}
	t.Fatal("no twist point outside G2 found")
	return bn254.G2Affine{}
}

func FuzzProofFromBytes(f *testing.F) {
	claims, err := testClaims()
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range claims[:3] {
		b := c.Proof.Bytes()
		f.Add(b[:])
	}
	f.Add(make([]byte, ProofSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ProofFromBytes(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("decoded proof fails its own checks: %v", err)
		}
		again := p.Bytes()
		if string(again[:]) != string(b) {
			t.Fatalf("re-encoding differs: %x, was %x", again, b)
		}
	})
}
