package bls

import (
	"fmt"
	"testing"
)

// SignMessage over a hashed message gives exactly Sign's signature (BLS signatures are
// deterministic), for several keys sharing one Message, and it verifies.
func TestSignMessageMatchesSign(t *testing.T) {
	for i := range 4 {
		msg := []byte(fmt.Sprintf("signing root %d", i))
		m := HashMessage(msg)
		for range 3 {
			sk, err := GenerateSecretKey()
			if err != nil {
				t.Fatal(err)
			}
			got, want := sk.SignMessage(m), sk.Sign(msg)
			if !got.Equal(want) {
				t.Fatalf("message %d: SignMessage differs from Sign", i)
			}
			if !Verify(sk.PublicKey(), msg, got) {
				t.Fatalf("message %d: SignMessage's signature does not verify", i)
			}
			if Verify(sk.PublicKey(), []byte("another message"), got) {
				t.Fatalf("message %d: signature verifies for another message", i)
			}
		}
	}
}

func BenchmarkSignMessage(b *testing.B) {
	sk, err := GenerateSecretKey()
	if err != nil {
		b.Fatal(err)
	}
	m := HashMessage([]byte("a slot's signing root"))
	b.ReportAllocs()
	for b.Loop() {
		sk.SignMessage(m)
	}
}
