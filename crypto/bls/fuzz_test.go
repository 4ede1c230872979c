package bls_test

import (
	"bytes"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Decoders must never panic, and whatever they accept must re-encode to the same bytes.

func FuzzPublicKeyFromBytes(f *testing.F) {
	sk, _ := bls.GenerateSecretKey()
	pk := sk.PublicKey().Bytes()
	f.Add(pk[:])
	f.Add(append(pk[:], 0))
	inf := make([]byte, 48)
	inf[0] = 0xc0
	f.Add(inf)
	f.Add(make([]byte, 96))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := bls.PublicKeyFromBytes(b)
		if err != nil {
			return
		}
		enc := p.Bytes()
		if !bytes.Equal(enc[:], b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, enc)
		}
	})
}

func FuzzSignatureFromBytes(f *testing.F) {
	sk, _ := bls.GenerateSecretKey()
	sig := sk.Sign([]byte("seed")).Bytes()
	f.Add(sig[:])
	f.Add(sig[:95])
	inf := make([]byte, 96)
	inf[0] = 0xc0
	f.Add(inf)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := bls.SignatureFromBytes(b)
		if err != nil {
			return
		}
		enc := s.Bytes()
		if !bytes.Equal(enc[:], b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, enc)
		}
	})
}

func FuzzSecretKeyFromBytes(f *testing.F) {
	sk, _ := bls.GenerateSecretKey()
	b := sk.Bytes()
	f.Add(b[:])
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := bls.SecretKeyFromBytes(b)
		if err != nil {
			return
		}
		enc := k.Bytes()
		if !bytes.Equal(enc[:], b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, enc)
		}
	})
}

// Verify on arbitrary bytes: never panics, and only the genuine triple (or an identical
// re-encoding of it) verifies.
func FuzzVerify(f *testing.F) {
	sk, _ := bls.GenerateSecretKey()
	msg := []byte("fuzz message")
	pk := sk.PublicKey().Bytes()
	sig := sk.Sign(msg).Bytes()
	f.Add(pk[:], msg, sig[:])
	f.Add(pk[:], []byte("other"), sig[:])
	f.Fuzz(func(t *testing.T, pkb, m, sigb []byte) {
		p, err1 := bls.PublicKeyFromBytes(pkb)
		s, err2 := bls.SignatureFromBytes(sigb)
		if err1 != nil || err2 != nil {
			return
		}
		ok := bls.Verify(p, m, s)
		genuine := bytes.Equal(pkb, pk[:]) && bytes.Equal(m, msg) && bytes.Equal(sigb, sig[:])
		if ok && !genuine && bytes.Equal(pkb, pk[:]) {
			t.Fatalf("a different message or signature verified under the seed key")
		}
		if genuine && !ok {
			t.Fatal("the genuine signature failed")
		}
	})
}
