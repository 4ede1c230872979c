package prover

import (
	"errors"
	"testing"
)

func TestRawProofEncoding(t *testing.T) {
	vk := mustKeys(t).VerifyingKey()
	claims := mustClaims(t)
	bufs := make([][]byte, len(claims))
	for i := range claims {
		b := claims[i].Proof.RawBytes()
		bufs[i] = b[:]
	}
	ps, errs := ProofsFromRawBytes(bufs)
	for i, p := range ps {
		if errs[i] != nil {
			t.Fatalf("proof %d: %v", i, errs[i])
		}
		if *p != claims[i].Proof {
			t.Fatalf("proof %d changed in a round trip", i)
		}
		if err := vk.VerifyPairing(p, &claims[i].Statement); err != nil {
			t.Fatal(err)
		}
	}

	good := claims[0].Proof.RawBytes()
	outside := claims[0].Proof
	outside.B = twistPointOutsideG2(t)
	ob := outside.RawBytes()
	offCurve := good
	offCurve[63] ^= 1 // A's y changed: off the curve
	nonCanon := good
	for i := 0; i < 32; i++ { // A's x = 2^254-1 > p, flag bits clear
		nonCanon[i] = 0xff
	}
	nonCanon[0] = 0x3f
	compressed := good
	compressed[0] |= 0x80
	inf := make([]byte, ProofRawSize)
	cases := map[string][]byte{
		"short": good[:ProofRawSize-1], "long": append(good[:], 0), "B outside G2": ob[:],
		"A off the curve": offCurve[:], "non-canonical x": nonCanon[:], "compressed flag": compressed[:],
		"all zero (infinity)": inf,
	}
	for name, b := range cases {
		if _, err := ProofFromRawBytes(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}

	// In a batch large enough for the probabilistic G2 check (160 and more), the one bad B is
	// named and the others pass.
	var batch [][]byte
	for len(batch) < 200 {
		b := claims[len(batch)%len(claims)].Proof.RawBytes()
		batch = append(batch, b[:])
	}
	batch[137] = ob[:]
	ps, errs = ProofsFromRawBytes(batch)
	for i := range batch {
		if (errs[i] != nil) != (i == 137) || (ps[i] == nil) != (i == 137) {
			t.Fatalf("item %d: %v", i, errs[i])
		}
	}
	if !errors.Is(errs[137], ErrMalformed) {
		t.Fatal(errs[137])
	}
}

func FuzzProofFromRawBytes(f *testing.F) {
	claims, err := testClaims()
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range claims[:3] {
		b := c.Proof.RawBytes()
		f.Add(b[:])
	}
	f.Add(make([]byte, ProofRawSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ProofFromRawBytes(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("decoded proof fails its own checks: %v", err)
		}
		again := p.RawBytes()
		if string(again[:]) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkDecodeProof compares decoding the compressed form (square roots in Fp and Fp2, one
// G2 subgroup check per proof) with the uncompressed form, with per-proof and batched G2
// subgroup checks, over batches of 1,024 proofs.
func BenchmarkDecodeProof(b *testing.B) {
	claims, err := testClaims()
	if err != nil {
		b.Fatal(err)
	}
	const n = 1024
	comp := make([][]byte, n)
	raw := make([][]byte, n)
	for i := range n {
		c, r := claims[i%len(claims)].Proof.Bytes(), claims[i%len(claims)].Proof.RawBytes()
		comp[i], raw[i] = c[:], r[:]
	}
	b.Run("compressed", func(b *testing.B) {
		for b.Loop() {
			for _, c := range comp {
				if _, err := ProofFromBytes(c); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/proof")
	})
	b.Run("raw-each", func(b *testing.B) {
		for b.Loop() {
			for _, r := range raw {
				p, err := rawProofPoints(r)
				if err != nil || !p.B.IsInSubGroup() {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/proof")
	})
	b.Run("raw-batch", func(b *testing.B) {
		for b.Loop() {
			if _, errs := ProofsFromRawBytes(raw); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/proof")
	})
}
