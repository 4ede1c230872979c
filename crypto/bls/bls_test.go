package bls_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
)

func mustKey(t testing.TB) *bls.SecretKey {
	t.Helper()
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestDecodingRejectsWrongLengths(t *testing.T) {
	sk := mustKey(t)
	pk := sk.PublicKey().Bytes()
	sig := sk.Sign([]byte("m")).Bytes()
	skb := sk.Bytes()

	// gnark-crypto's SetBytes reads a prefix of a longer buffer; these must not.
	if _, err := bls.PublicKeyFromBytes(append(pk[:], 0)); !errors.Is(err, bls.ErrInvalidPublicKey) {
		t.Fatalf("49-byte public key: %v", err)
	}
	if _, err := bls.PublicKeyFromBytes(pk[:47]); !errors.Is(err, bls.ErrInvalidPublicKey) {
		t.Fatalf("47-byte public key: %v", err)
	}
	if _, err := bls.SignatureFromBytes(append(sig[:], 0)); !errors.Is(err, bls.ErrInvalidSignature) {
		t.Fatalf("97-byte signature: %v", err)
	}
	if _, err := bls.SignatureFromBytes(sig[:95]); !errors.Is(err, bls.ErrInvalidSignature) {
		t.Fatalf("95-byte signature: %v", err)
	}
	if _, err := bls.SecretKeyFromBytes(append(skb[:], 0)); !errors.Is(err, bls.ErrInvalidSecretKey) {
		t.Fatalf("33-byte secret key: %v", err)
	}
	// An uncompressed 96-byte G1 encoding is not a public key in Ethereum.
	if _, err := bls.PublicKeyFromBytes(make([]byte, 96)); !errors.Is(err, bls.ErrInvalidPublicKey) {
		t.Fatalf("96-byte public key: %v", err)
	}
	// Round trips.
	pk2, err := bls.PublicKeyFromBytes(pk[:])
	if err != nil || pk2.Bytes() != pk {
		t.Fatalf("public key round trip: %v", err)
	}
	sig2, err := bls.SignatureFromBytes(sig[:])
	if err != nil || sig2.Bytes() != sig {
		t.Fatalf("signature round trip: %v", err)
	}
	sk2, err := bls.SecretKeyFromBytes(skb[:])
	if err != nil || sk2.Bytes() != skb {
		t.Fatalf("secret key round trip: %v", err)
	}
}

func TestInfinity(t *testing.T) {
	infPK := make([]byte, 48)
	infPK[0] = 0xc0
	if _, err := bls.PublicKeyFromBytes(infPK); !errors.Is(err, bls.ErrInvalidPublicKey) {
		t.Fatalf("infinity public key accepted: %v", err)
	}
	infSig := make([]byte, 96)
	infSig[0] = 0xc0
	sig, err := bls.SignatureFromBytes(infSig)
	if err != nil {
		t.Fatalf("infinity signature must decode: %v", err)
	}
	sk := mustKey(t)
	msg := []byte("msg")
	if bls.Verify(sk.PublicKey(), msg, sig) {
		t.Fatal("infinity signature verified")
	}
	// Keys that sum to the identity with an identity signature: the MillerLoop trap. Every
	// pairing would be dropped and an empty product accepted.
	pk := sk.PublicKey()
	neg := negateKey(t, sk).PublicKey()
	if bls.FastAggregateVerify([]*bls.PublicKey{pk, neg}, msg, sig) {
		t.Fatal("FastAggregateVerify accepted keys summing to the identity with an identity signature")
	}
	if bls.AggregateVerify([]*bls.PublicKey{pk, neg}, [][]byte{msg, msg}, sig) {
		t.Fatal("AggregateVerify accepted an identity signature")
	}
	if bls.BatchVerify([]bls.SignatureSet{{pk, msg, sig}}) {
		t.Fatal("BatchVerify accepted an identity signature")
	}
	if bls.Verify(&bls.PublicKey{}, msg, sk.Sign(msg)) {
		t.Fatal("zero-value public key verified")
	}
}

// negateKey returns r - sk, whose public key is -pk and whose signatures are the negations.
func negateKey(t *testing.T, sk *bls.SecretKey) *bls.SecretKey {
	t.Helper()
	b := sk.Bytes()
	// r - sk, big-endian.
	r := [32]byte{0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05,
		0x53, 0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01}
	var out [32]byte
	borrow := 0
	for i := 31; i >= 0; i-- {
		d := int(r[i]) - int(b[i]) - borrow
		borrow = 0
		if d < 0 {
			d += 256
			borrow = 1
		}
		out[i] = byte(d)
	}
	neg, err := bls.SecretKeyFromBytes(out[:])
	if err != nil {
		t.Fatal(err)
	}
	return neg
}

func TestEmptyInputs(t *testing.T) {
	if _, err := bls.Aggregate(nil); !errors.Is(err, bls.ErrEmpty) {
		t.Fatalf("Aggregate(nil): %v", err)
	}
	if _, err := bls.AggregatePublicKeys(nil); !errors.Is(err, bls.ErrEmpty) {
		t.Fatalf("AggregatePublicKeys(nil): %v", err)
	}
	sk := mustKey(t)
	sig := sk.Sign([]byte("m"))
	if bls.FastAggregateVerify(nil, []byte("m"), sig) || bls.AggregateVerify(nil, nil, sig) || bls.BatchVerify(nil) {
		t.Fatal("verification over nothing returned true")
	}
	if bls.NewVerifier(0).Verify() {
		t.Fatal("empty Verifier verified")
	}
	if _, err := bls.SecretKeyFromBytes(make([]byte, 32)); !errors.Is(err, bls.ErrInvalidSecretKey) {
		t.Fatal("zero secret key accepted")
	}
}

// makeSets returns n valid sets over nMsgs messages.
func makeSets(t testing.TB, n, nMsgs int) []bls.SignatureSet {
	msgs := make([][]byte, nMsgs)
	for i := range msgs {
		msgs[i] = make([]byte, 32)
		rand.Read(msgs[i])
	}
	sets := make([]bls.SignatureSet, n)
	for i := range sets {
		sk := mustKey(t)
		m := msgs[i%nMsgs]
		sets[i] = bls.SignatureSet{PublicKey: sk.PublicKey(), Message: m, Signature: sk.Sign(m)}
	}
	return sets
}

func TestVerifierFindsBadSets(t *testing.T) {
	sets := makeSets(t, 40, 5)
	v := bls.NewVerifier(len(sets))
	for _, s := range sets {
		v.Add(s)
	}
	if !v.Verify() || v.Invalid() != nil {
		t.Fatal("valid batch rejected")
	}
	if v.Messages() != 5 {
		t.Fatalf("grouped into %d messages, want 5", v.Messages())
	}

	// Three kinds of bad set: wrong message, swapped signatures, nil signature.
	bad := append([]bls.SignatureSet{}, sets...)
	bad[3].Message = []byte("not what was signed")
	bad[17].Signature, bad[18].Signature = sets[18].Signature, sets[17].Signature
	bad[31].Signature = nil
	v.Reset()
	for _, s := range bad {
		v.Add(s)
	}
	if v.Verify() {
		t.Fatal("bad batch verified")
	}
	got := v.Invalid()
	want := []int{3, 17, 18, 31}
	if len(got) != len(want) {
		t.Fatalf("Invalid() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Invalid() = %v, want %v", got, want)
		}
	}
	// Each remaining set verifies on its own, and each flagged one does not.
	for i, s := range bad {
		flagged := i == 3 || i == 17 || i == 18 || i == 31
		if s.Signature != nil && bls.Verify(s.PublicKey, s.Message, s.Signature) == flagged {
			t.Fatalf("set %d: individual verification disagrees with Invalid()", i)
		}
	}
}

// Two forged sets whose errors cancel: sig1' = sig1 + D, sig2' = sig2 - D. Their aggregate is
// the honest aggregate, so aggregation without random weights accepts them; the batch must not.
func TestBatchRejectsCancellingForgeries(t *testing.T) {
	sets := makeSets(t, 2, 2)
	dk := mustKey(t)
	delta := dk.Sign([]byte("delta"))
	negDelta := negateKey(t, dk).Sign([]byte("delta")) // [r - k]H = -[k]H
	s1, _ := bls.Aggregate([]*bls.Signature{sets[0].Signature, delta})
	s2, _ := bls.Aggregate([]*bls.Signature{sets[1].Signature, negDelta})
	honest, _ := bls.Aggregate([]*bls.Signature{sets[0].Signature, sets[1].Signature})
	forgedAgg, _ := bls.Aggregate([]*bls.Signature{s1, s2})
	if !forgedAgg.Equal(honest) {
		t.Fatal("test setup: the deltas do not cancel")
	}
	forged := []bls.SignatureSet{
		{PublicKey: sets[0].PublicKey, Message: sets[0].Message, Signature: s1},
		{PublicKey: sets[1].PublicKey, Message: sets[1].Message, Signature: s2},
	}
	for i := 0; i < 20; i++ { // fresh weights each time
		if bls.BatchVerify(forged) {
			t.Fatal("batch accepted a cancelling forged pair")
		}
	}
}

func TestVerifyStream(t *testing.T) {
	sets := makeSets(t, 30, 3)
	sets[7].Message = []byte("tampered")
	in := make(chan bls.SignatureSet)
	var results []bls.Result
	done := make(chan error, 1)
	go func() {
		done <- bls.VerifyStream(context.Background(), in, 8, func(r bls.Result) { results = append(results, r) })
	}()
	for _, s := range sets {
		in <- s
	}
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen, invalid := 0, 0
	for _, r := range results {
		if len(r.Sets) > 8 || len(r.Sets) == 0 {
			t.Fatalf("batch of %d sets, want 1..8", len(r.Sets))
		}
		for _, i := range r.Invalid {
			if string(r.Sets[i].Message) != "tampered" {
				t.Fatal("a valid set was reported invalid")
			}
			invalid++
		}
		seen += len(r.Sets)
	}
	if seen != len(sets) || invalid != 1 {
		t.Fatalf("saw %d sets with %d invalid, want %d with 1", seen, invalid, len(sets))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bls.VerifyStream(ctx, make(chan bls.SignatureSet), 8, func(bls.Result) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled stream returned %v", err)
	}
}

func TestSignaturesAreDeterministic(t *testing.T) {
	// Blinding changes the computation, never the result.
	sk := mustKey(t)
	a, b := sk.Sign([]byte("x")), sk.Sign([]byte("x"))
	if !a.Equal(b) {
		t.Fatal("two signatures of one message differ")
	}
}

// A caller that reuses its message buffer after Add (as a streaming decoder does) does not
// change what the queued set verifies: a signature over the first message stays valid and one
// over the second does not.
func TestVerifierCopiesMessages(t *testing.T) {
	sk := mustKey(t)
	first, second := []byte("attestation data one"), []byte("attestation data two")
	buf := bytes.Clone(first)
	v := bls.NewVerifier(2)
	v.Add(bls.SignatureSet{PublicKey: sk.PublicKey(), Message: buf, Signature: sk.Sign(first)})
	copy(buf, second)
	v.Add(bls.SignatureSet{PublicKey: sk.PublicKey(), Message: buf, Signature: sk.Sign(first)})
	if v.Messages() != 2 {
		t.Fatalf("%d distinct messages queued, want 2", v.Messages())
	}
	if got := v.Invalid(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("Invalid() = %v, want [1]: the first set was queued over the first message", got)
	}
}
