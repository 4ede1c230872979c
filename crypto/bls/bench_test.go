package bls_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Benchmarks compare zkv with blst (the reference implementation, assembly-optimised C) on the
// same inputs in the same process: each BenchmarkX has sub-benchmarks zkv and blst, and the
// figure that matters is the ratio zkv/blst. Run each GOMAXPROCS in its own process:
//
//	for p in 1 2; do go test -run '^$' -bench . -cpu $p ./crypto/bls; done
//
// (`make bench-bls` does that and prints the ratios.) Both sides get already-decoded,
// already-subgroup-checked inputs where the operation is not decoding itself.

type fixture struct {
	sks   []*bls.SecretKey
	pks   []*bls.PublicKey
	msgs  [][]byte
	sigs  []*bls.Signature
	bsks  []*blst.SecretKey
	bpks  []*blst.P1Affine
	bsigs []*blst.P2Affine
}

// newFixture makes n keys signing n messages drawn from nMsgs distinct 32-byte roots.
func newFixture(tb testing.TB, n, nMsgs int) *fixture {
	tb.Helper()
	f := &fixture{}
	roots := make([][]byte, nMsgs)
	for i := range roots {
		roots[i] = make([]byte, 32)
		rand.Read(roots[i])
	}
	for i := 0; i < n; i++ {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			tb.Fatal(err)
		}
		msg := roots[i%nMsgs]
		sig := sk.Sign(msg)
		skb := sk.Bytes()
		pkb := sk.PublicKey().Bytes()
		sigb := sig.Bytes()
		f.sks = append(f.sks, sk)
		f.pks = append(f.pks, sk.PublicKey())
		f.msgs = append(f.msgs, msg)
		f.sigs = append(f.sigs, sig)
		f.bsks = append(f.bsks, new(blst.SecretKey).Deserialize(skb[:]))
		f.bpks = append(f.bpks, new(blst.P1Affine).Uncompress(pkb[:]))
		f.bsigs = append(f.bsigs, new(blst.P2Affine).Uncompress(sigb[:]))
	}
	return f
}

func blstRand(s *blst.Scalar) {
	var b [32]byte
	for binary.LittleEndian.Uint64(b[:8]) == 0 {
		rand.Read(b[:8])
	}
	s.FromLEndian(b[:])
}

func init() { blst.SetMaxProcs(runtime.GOMAXPROCS(0)) }

func BenchmarkSign(b *testing.B) {
	f := newFixture(b, 1, 1)
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			f.sks[0].Sign(f.msgs[0])
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			new(blst.P2Affine).Sign(f.bsks[0], f.msgs[0], bls.DST)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, 1, 1)
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			if !bls.Verify(f.pks[0], f.msgs[0], f.sigs[0]) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			if !f.bsigs[0].Verify(false, f.bpks[0], false, f.msgs[0], bls.DST) {
				b.Fatal("invalid")
			}
		}
	})
}

func BenchmarkHashToG2(b *testing.B) {
	msg := make([]byte, 32)
	rand.Read(msg)
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			bls.HashToG2ForTest(msg)
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			blst.HashToG2(msg, bls.DST).ToAffine().Compress()
		}
	})
}

func BenchmarkAggregate128(b *testing.B) {
	f := newFixture(b, 128, 1)
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			if _, err := bls.Aggregate(f.sigs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			var agg blst.P2Aggregate
			if !agg.Aggregate(f.bsigs, false) {
				b.Fatal("aggregate failed")
			}
			agg.ToAffine()
		}
	})
}

// Decoding includes the subgroup check on both sides (and KeyValidate for keys).
func BenchmarkDecodeG1(b *testing.B) {
	f := newFixture(b, 1, 1)
	enc := f.pks[0].Bytes()
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			if _, err := bls.PublicKeyFromBytes(enc[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			p := new(blst.P1Affine).Uncompress(enc[:])
			if p == nil || !p.KeyValidate() {
				b.Fatal("invalid")
			}
		}
	})
}

func BenchmarkDecodeG2(b *testing.B) {
	f := newFixture(b, 1, 1)
	enc := f.sigs[0].Bytes()
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			if _, err := bls.SignatureFromBytes(enc[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			p := new(blst.P2Affine).Uncompress(enc[:])
			if p == nil || !p.SigValidate(false) {
				b.Fatal("invalid")
			}
		}
	})
}

func benchBatch(b *testing.B, n, nMsgs int) {
	f := newFixture(b, n, nMsgs)
	sets := make([]bls.SignatureSet, n)
	for i := range sets {
		sets[i] = bls.SignatureSet{PublicKey: f.pks[i], Message: f.msgs[i], Signature: f.sigs[i]}
	}
	b.Run("zkv", func(b *testing.B) {
		for b.Loop() {
			if !bls.BatchVerify(sets) {
				b.Fatal("invalid")
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "sigs/s")
	})
	b.Run("blst", func(b *testing.B) {
		for b.Loop() {
			if !new(blst.P2Affine).MultipleAggregateVerify(f.bsigs, false, f.bpks, false, f.msgs, bls.DST, blstRand, 64) {
				b.Fatal("invalid")
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "sigs/s")
	})
}

// 512 signatures over 512 distinct 32-byte messages (block-like: nothing shared).
func BenchmarkBatchVerify512Distinct(b *testing.B) { benchBatch(b, 512, 512) }

// 512 attestation-like signatures over 16 distinct messages (committees share attestation data).
func BenchmarkBatchVerify512Over16(b *testing.B) { benchBatch(b, 512, 16) }

func ExampleVerifier() {
	sk, _ := bls.GenerateSecretKey()
	v := bls.NewVerifier(2)
	msg := []byte("attestation data root")
	v.Add(bls.SignatureSet{PublicKey: sk.PublicKey(), Message: msg, Signature: sk.Sign(msg)})
	v.Add(bls.SignatureSet{PublicKey: sk.PublicKey(), Message: msg, Signature: sk.Sign([]byte("other"))})
	fmt.Println(v.Verify(), v.Invalid())
	// Output: false [1]
}
