package mev

import (
	"sync"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Concurrent callers get their own answer, bad sets among good ones included.
func TestGroupVerifier(t *testing.T) {
	g := newGroupVerifier(8)
	const n = 40
	sets := make([]bls.SignatureSet, n)
	for i := range sets {
		sk, _ := bls.GenerateSecretKey()
		msg := []byte{byte(i)}
		sets[i] = bls.SignatureSet{PublicKey: sk.PublicKey(), Message: msg, Signature: sk.Sign(msg)}
		if i%7 == 3 {
			sets[i].Message = []byte{byte(i), 1} // signature of another message
		}
	}
	var wg sync.WaitGroup
	got := make([]bool, n)
	for i := range sets {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = g.verify(sets[i]) }()
	}
	wg.Wait()
	for i := range got {
		if got[i] != (i%7 != 3) {
			t.Fatalf("set %d: %v", i, got[i])
		}
	}
}

func testKey(t *testing.T) *bls.SecretKey {
	t.Helper()
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}
