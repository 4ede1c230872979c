package registry

import (
	"errors"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// fakeSet is a validator set in memory; down makes it fail.
type fakeSet struct {
	balances map[[bls.PublicKeyLength]byte]uint64
	down     bool
}

func (s *fakeSet) Validator(pk [bls.PublicKeyLength]byte) (uint64, bool, error) {
	if s.down {
		return 0, false, errors.New("beacon node unreachable")
	}
	b, ok := s.balances[pk]
	return b, ok, nil
}

// The CLI registry admits any BLS key at any weight; AdmitValidators is the policy a pool or
// devnet plugs into Config.Admit (issue 13's "also weigh").
func TestAdmitValidators(t *testing.T) {
	member, outsider := testKey(t, 1), testKey(t, 2)
	set := &fakeSet{balances: map[[bls.PublicKeyLength]byte]uint64{member.PublicKey().Bytes(): 32_000_000_000}}
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t), Admit: AdmitValidators(set)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(mustSignAt(t, outsider, 32_000_000_000, 100, testDomain)); !errors.Is(err, ErrRejected) {
		t.Fatalf("a key outside the validator set: %v", err)
	}
	if err := r.Register(mustSignAt(t, member, ^uint64(0), 100, testDomain)); !errors.Is(err, ErrRejected) {
		t.Fatalf("a weight above the effective balance: %v", err)
	}
	set.down = true
	if err := r.Register(mustSignAt(t, member, 32_000_000_000, 100, testDomain)); !errors.Is(err, ErrRejected) {
		t.Fatalf("validator set unreachable: %v", err)
	}
	set.down = false
	if err := r.Register(mustSignAt(t, member, 32_000_000_000, 100, testDomain)); err != nil {
		t.Fatal(err)
	}
}
