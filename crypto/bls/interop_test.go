package bls_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Cross-checks against the reference implementation, blst: the same keys give the same public
// keys and signatures, each side verifies the other's signatures and aggregates, and both agree
// on tampered input.
func TestInteropWithBlst(t *testing.T) {
	n := 24
	if testing.Short() {
		n = 8
	}
	var zkvSigs []*bls.Signature
	var blstSigs []*blst.P2Affine
	var zkvPKs []*bls.PublicKey
	var blstPKs []*blst.P1Affine
	msgs := make([][]byte, n)
	for i := 0; i < n; i++ {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		skb := sk.Bytes()
		bsk := new(blst.SecretKey).Deserialize(skb[:])
		if bsk == nil {
			t.Fatal("blst refused a zkv secret key")
		}
		msg := make([]byte, 1+i*7) // varied lengths, not only 32-byte roots
		rand.Read(msg)
		msgs[i] = msg

		pk := sk.PublicKey()
		bpk := new(blst.P1Affine).From(bsk)
		pkb := pk.Bytes()
		if !bytes.Equal(pkb[:], bpk.Compress()) {
			t.Fatalf("key %d: public keys differ", i)
		}
		sig := sk.Sign(msg)
		bsig := new(blst.P2Affine).Sign(bsk, msg, bls.DST)
		sigb := sig.Bytes()
		if !bytes.Equal(sigb[:], bsig.Compress()) {
			t.Fatalf("key %d: signatures differ", i)
		}
		// Each verifies the other's encoding.
		pk2, err := bls.PublicKeyFromBytes(bpk.Compress())
		if err != nil {
			t.Fatal(err)
		}
		sig2, err := bls.SignatureFromBytes(bsig.Compress())
		if err != nil {
			t.Fatal(err)
		}
		if !bls.Verify(pk2, msg, sig2) {
			t.Fatalf("key %d: zkv rejects blst's signature", i)
		}
		if !new(blst.P2Affine).Uncompress(sigb[:]).Verify(true, new(blst.P1Affine).Uncompress(pkb[:]), true, msg, bls.DST) {
			t.Fatalf("key %d: blst rejects zkv's signature", i)
		}
		tampered := append([]byte{}, msg...)
		tampered[0] ^= 1
		if bls.Verify(pk, tampered, sig) || bsig.Verify(true, bpk, true, tampered, bls.DST) {
			t.Fatalf("key %d: a tampered message verified", i)
		}
		zkvSigs = append(zkvSigs, sig)
		blstSigs = append(blstSigs, bsig)
		zkvPKs = append(zkvPKs, pk)
		blstPKs = append(blstPKs, bpk)
	}

	agg, err := bls.Aggregate(zkvSigs)
	if err != nil {
		t.Fatal(err)
	}
	var bagg blst.P2Aggregate
	if !bagg.Aggregate(blstSigs, true) {
		t.Fatal("blst aggregate failed")
	}
	aggb := agg.Bytes()
	if !bytes.Equal(aggb[:], bagg.ToAffine().Compress()) {
		t.Fatal("aggregates differ")
	}
	if !bls.AggregateVerify(zkvPKs, msgs, agg) {
		t.Fatal("zkv AggregateVerify rejects the aggregate")
	}
	if !bagg.ToAffine().AggregateVerify(true, blstPKs, true, msgs, bls.DST) {
		t.Fatal("blst AggregateVerify rejects the aggregate")
	}

	// Same message: FastAggregateVerify both ways.
	msg := []byte("same attestation data root......")
	var same []*bls.Signature
	var bsame []*blst.P2Affine
	sks := make([]*bls.SecretKey, n)
	pks := make([]*bls.PublicKey, n)
	bpks := make([]*blst.P1Affine, n)
	for i := range sks {
		sks[i], _ = bls.GenerateSecretKey()
		pks[i] = sks[i].PublicKey()
		b := pks[i].Bytes()
		bpks[i] = new(blst.P1Affine).Uncompress(b[:])
		s := sks[i].Sign(msg)
		same = append(same, s)
		sb := s.Bytes()
		bsame = append(bsame, new(blst.P2Affine).Uncompress(sb[:]))
	}
	fagg, _ := bls.Aggregate(same)
	if !bls.FastAggregateVerify(pks, msg, fagg) {
		t.Fatal("zkv FastAggregateVerify rejects")
	}
	fb := fagg.Bytes()
	if !new(blst.P2Affine).Uncompress(fb[:]).FastAggregateVerify(true, bpks, msg, bls.DST) {
		t.Fatal("blst FastAggregateVerify rejects zkv's aggregate")
	}
	if bls.FastAggregateVerify(pks[1:], msg, fagg) {
		t.Fatal("zkv FastAggregateVerify accepts a missing signer")
	}

	// Hash to G2 agrees point for point.
	for _, m := range msgs[:4] {
		var want blst.P2Affine = *blst.HashToG2(m, bls.DST).ToAffine()
		got := bls.HashToG2ForTest(m)
		if !bytes.Equal(got, want.Compress()) {
			t.Fatal("hash to G2 differs from blst")
		}
	}
}
