package bls

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

func randomG2(t *testing.T) bls12381.G2Affine {
	t.Helper()
	var s fr.Element
	s.SetRandom()
	var p bls12381.G2Affine
	p.ScalarMultiplication(&g2Gen, s.BigInt(new(big.Int)))
	return p
}

// psi must act as multiplication by the BLS parameter z on G2: the signing ladder relies on it.
func TestPsiIsMultiplicationBySeed(t *testing.T) {
	z := new(big.Int).SetUint64(seedAbs)
	z.Neg(z)
	for i := 0; i < 8; i++ {
		p := randomG2(t)
		var got, want bls12381.G2Affine
		psiAffine(&got, &p)
		want.ScalarMultiplication(&p, new(big.Int).Mod(z, fr.Modulus()))
		if !got.Equal(&want) {
			t.Fatal("psi(P) != [z]P")
		}
	}
}

// The hardened multiplications must equal gnark-crypto's plain ones for edge and random scalars.
func TestSecretMultiplicationMatchesPlain(t *testing.T) {
	r := fr.Modulus()
	scalars := []*big.Int{
		big.NewInt(1), big.NewInt(2), big.NewInt(3), big.NewInt(15), big.NewInt(16), big.NewInt(17),
		new(big.Int).Sub(r, big.NewInt(1)), new(big.Int).Sub(r, big.NewInt(2)),
		new(big.Int).Lsh(big.NewInt(1), 128), new(big.Int).SetUint64(seedAbs),
		new(big.Int).SetUint64(seedAbs - 1), new(big.Int).SetUint64(seedAbs + 1),
	}
	for i := 0; i < 40; i++ {
		var s fr.Element
		s.SetRandom()
		scalars = append(scalars, s.BigInt(new(big.Int)))
	}
	p2 := randomG2(t)
	for _, k := range scalars {
		var s fr.Element
		s.SetBigInt(k)
		for rep := 0; rep < 3; rep++ { // fresh blinding each time
			got := g2MulSecret(&p2, &s)
			var want bls12381.G2Affine
			want.ScalarMultiplication(&p2, k)
			if !got.Equal(&want) {
				t.Fatalf("G2: [%v]P differs", k)
			}
			got1 := g1MulSecret(&g1Gen, &s)
			var want1 bls12381.G1Affine
			want1.ScalarMultiplication(&g1Gen, k)
			if !got1.Equal(&want1) {
				t.Fatalf("G1: [%v]G differs", k)
			}
		}
	}
}

func TestBaseSeedDigits(t *testing.T) {
	var s fr.Element
	for i := 0; i < 100; i++ {
		s.SetRandom()
		v := blindScalar(&s)
		a := baseSeedDigits(v)
		// Recombine and compare with v.
		acc := new(big.Int)
		z := new(big.Int).SetUint64(seedAbs)
		for d := 4; d >= 0; d-- {
			acc.Mul(acc, z).Add(acc, new(big.Int).SetUint64(a[d]))
		}
		want := new(big.Int)
		for l := 4; l >= 0; l-- {
			want.Lsh(want, 64).Add(want, new(big.Int).SetUint64(v[l]))
		}
		if acc.Cmp(want) != 0 {
			t.Fatal("base-|z| digits do not recombine: blinded scalar needs more than five digits")
		}
		if new(big.Int).Mod(want, fr.Modulus()).Cmp(s.BigInt(new(big.Int))) != 0 {
			t.Fatal("blinded scalar is not congruent to the key")
		}
	}
}

func TestG1MulUint64(t *testing.T) {
	ks := []uint64{1, 2, 3, 5, 7, 1 << 63, 1<<63 + 1, ^uint64(0), ^uint64(0) - 1, 0xaaaaaaaaaaaaaaaa, 0x5555555555555555}
	var b [8]byte
	for i := 0; i < 50; i++ {
		rand.Read(b[:])
		ks = append(ks, binary.LittleEndian.Uint64(b[:]))
	}
	for _, k := range ks {
		var got bls12381.G1Jac
		g1MulUint64(&got, &g1Gen, k)
		var gotA, want bls12381.G1Affine
		gotA.FromJacobian(&got)
		want.ScalarMultiplication(&g1Gen, new(big.Int).SetUint64(k))
		if !gotA.Equal(&want) {
			t.Fatalf("[%d]G differs", k)
		}
	}
}

// Secret keys must not leak through fmt, whatever the verb or nesting.
func TestSecretKeyRedacted(t *testing.T) {
	sk, err := SecretKeyFromBytes(mustHex(t, "263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3"))
	if err != nil {
		t.Fatal(err)
	}
	b := sk.Bytes()
	secretHex := fmt.Sprintf("%x", b[:])
	wrapped := struct{ K *SecretKey }{sk}
	// fmt cannot call Format on a value in an unexported field: it walks the value itself, and
	// must find no limb of the scalar there.
	hidden := struct{ k SecretKey }{*sk}
	out := fmt.Sprintf("%v %+v %#v", hidden, hidden, hidden)
	for _, limb := range sk.s {
		if strings.Contains(out, fmt.Sprint(limb)) || strings.Contains(out, fmt.Sprintf("%x", limb)) {
			t.Fatalf("secret key limbs printed from an unexported field: %s", out)
		}
	}
	for _, out := range []string{
		fmt.Sprint(sk), fmt.Sprintf("%v %+v %#v %x %X %s %d", sk, sk, sk, sk, sk, sk, sk),
		fmt.Sprintf("%v %+v", wrapped, wrapped), fmt.Sprintf("%v", *sk),
	} {
		if strings.Contains(strings.ToLower(out), secretHex[:16]) {
			t.Fatalf("secret key printed: %s", out)
		}
		if !strings.Contains(out, "redacted") {
			t.Fatalf("expected redacted output, got %q", out)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		fmt.Sscanf(s[i:i+2], "%02x", &v)
		out = append(out, v)
	}
	return out
}
