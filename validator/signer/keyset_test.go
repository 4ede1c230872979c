package signer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// gate is a Protector that holds every attestation check until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gate) CheckAndRecordBlock(context.Context, slashing.Block) error { return nil }
func (g *gate) CheckAndRecordAttestations(_ context.Context, as []slashing.Attestation) []error {
	g.entered <- struct{}{}
	<-g.release
	return make([]error, len(as))
}

// RemoveKeys returns only after a signing call in flight with the key has finished; after it,
// the key signs nothing. AddKeys refuses a key held already, and a removed key can be added back.
func TestRemoveKeysWaitsForSigning(t *testing.T) {
	net, err := NewNetwork(NetworkConfig{SlotsPerEpoch: 8, Forks: []Fork{{Epoch: 0, Version: phase0.Version{1}}}})
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := bls.GenerateSecretKey()
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	s, err := New(net, g, []*keys.Key{{Secret: sk}})
	if err != nil {
		t.Fatal(err)
	}
	pk := phase0.BLSPubKey(sk.PublicKey().Bytes())
	data := &phase0.AttestationData{Source: &phase0.Checkpoint{}, Target: &phase0.Checkpoint{Epoch: 1}, Slot: 8}
	signed := make(chan error, 1)
	go func() {
		_, errs := s.SignAttestations(context.Background(), []AttestationRequest{{Pubkey: pk, Data: data}})
		signed <- errs[0]
	}()
	<-g.entered // the attestation is in slashing protection, the key still held
	removed := make(chan []phase0.BLSPubKey, 1)
	go func() { removed <- s.RemoveKeys([]phase0.BLSPubKey{pk}) }()
	select {
	case <-removed:
		t.Fatal("RemoveKeys returned while a signature with the key was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	if err := <-signed; err != nil {
		t.Fatalf("the signature in flight: %v", err)
	}
	if got := <-removed; len(got) != 1 || got[0] != pk {
		t.Fatalf("removed %v", got)
	}
	if s.Has(pk) {
		t.Fatal("key still held")
	}
	if _, err := s.SignRandao(pk, 1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("signing after removal: %v, want ErrUnknownKey", err)
	}
	sk2, _ := bls.GenerateSecretKey()
	if err := s.AddKeys([]*keys.Key{{Secret: sk2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddKeys([]*keys.Key{{Secret: sk2}}); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("adding a held key: %v", err)
	}
	if _, err := s.SignRandao(phase0.BLSPubKey(sk2.PublicKey().Bytes()), 1); err != nil {
		t.Fatalf("an added key: %v", err)
	}
}
