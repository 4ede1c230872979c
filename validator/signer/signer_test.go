package signer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// newSigner makes a Signer over n fresh keys and a real Protector on an in-memory badger.
func newSigner(t testing.TB, n int) (*Signer, []*bls.SecretKey) {
	t.Helper()
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := slashing.New(slashing.Config{DB: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); d.Close() })
	sks := make([]*bls.SecretKey, n)
	for i := range sks {
		if sks[i], err = bls.GenerateSecretKey(); err != nil {
			t.Fatal(err)
		}
	}
	net, err := NewNetwork(NetworkConfig{SlotsPerEpoch: 8, Forks: []Fork{{0, phase0.Version{0x60}}}, GenesisForkVersion: phase0.Version{0x10}})
	if err != nil {
		t.Fatal(err)
	}
	ks := make([]*keys.Key, len(sks))
	for i, sk := range sks {
		ks[i] = &keys.Key{Secret: sk}
	}
	s, err := New(net, p, ks)
	if err != nil {
		t.Fatal(err)
	}
	return s, sks
}

func pub(sk *bls.SecretKey) phase0.BLSPubKey { return phase0.BLSPubKey(sk.PublicKey().Bytes()) }

func verify(t testing.TB, sk *bls.SecretKey, root phase0.Root, sig phase0.BLSSignature) bool {
	t.Helper()
	s, err := bls.SignatureFromBytes(sig[:])
	if err != nil {
		t.Fatalf("signature does not decode: %v", err)
	}
	return bls.Verify(sk.PublicKey(), root[:], s)
}

func attData(slot phase0.Slot, source, target phase0.Epoch, head byte) *phase0.AttestationData {
	return &phase0.AttestationData{Slot: slot, BeaconBlockRoot: phase0.Root{head},
		Source: &phase0.Checkpoint{Epoch: source}, Target: &phase0.Checkpoint{Epoch: target, Root: phase0.Root{head}}}
}

func TestSignAttestationsUnderProtection(t *testing.T) {
	s, sks := newSigner(t, 4)
	ctx := context.Background()
	data := attData(17, 1, 2, 0xaa)
	var reqs []AttestationRequest
	for _, sk := range sks {
		reqs = append(reqs, AttestationRequest{Pubkey: pub(sk), Data: data})
	}
	sigs, errs := s.SignAttestations(ctx, reqs)
	root, _ := s.Network().AttestationSigningRoot(data)
	for i := range reqs {
		if errs[i] != nil {
			t.Fatalf("validator %d: %v", i, errs[i])
		}
		if !verify(t, sks[i], root, sigs[i]) {
			t.Fatalf("validator %d: signature does not verify", i)
		}
	}
	// The same data again is the identical attestation: allowed. Another head for the same
	// target is a double vote: refused, and no signature is made.
	other := attData(17, 1, 2, 0xbb)
	again := []AttestationRequest{{pub(sks[0]), data}, {pub(sks[1]), other}, {pub(sks[2]), attData(18, 0, 3, 1)}}
	sigs, errs = s.SignAttestations(ctx, again)
	if errs[0] != nil {
		t.Errorf("identical attestation refused: %v", errs[0])
	}
	var se *slashing.SlashableError
	if !errors.As(errs[1], &se) || se.Reason != slashing.DoubleVote {
		t.Errorf("double vote: %v, want a DoubleVote refusal", errs[1])
	}
	if sigs[1] != (phase0.BLSSignature{}) {
		t.Error("a refused attestation got a signature")
	}
	if !errors.As(errs[2], &se) || se.Reason != slashing.SurroundingVote {
		t.Errorf("surrounding vote: %v, want a SurroundingVote refusal", errs[2])
	}
	// Unknown keys and bad data are refused per request.
	stranger, _ := bls.GenerateSecretKey()
	_, errs = s.SignAttestations(ctx, []AttestationRequest{{pub(stranger), data}, {pub(sks[3]), &phase0.AttestationData{}}})
	if !errors.Is(errs[0], ErrUnknownKey) || errs[1] == nil {
		t.Errorf("unknown key / bad data: %v / %v", errs[0], errs[1])
	}
}

func TestSignBlockUnderProtection(t *testing.T) {
	s, sks := newSigner(t, 1)
	ctx := context.Background()
	pk := pub(sks[0])
	sig, err := s.SignBlock(ctx, pk, 9, phase0.Root{1})
	if err != nil {
		t.Fatal(err)
	}
	if !verify(t, sks[0], s.Network().BlockSigningRoot(9, phase0.Root{1}), sig) {
		t.Fatal("block signature does not verify")
	}
	if _, err := s.SignBlock(ctx, pk, 9, phase0.Root{1}); err != nil {
		t.Errorf("the same block again: %v", err)
	}
	if _, err := s.SignBlock(ctx, pk, 9, phase0.Root{2}); !errors.Is(err, slashing.ErrSlashable) {
		t.Errorf("second block at slot 9: %v, want ErrSlashable", err)
	}
	if _, err := s.SignBlock(ctx, phase0.BLSPubKey{1}, 10, phase0.Root{2}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestSignOtherMessages(t *testing.T) {
	s, sks := newSigner(t, 1)
	sk, pk, n := sks[0], pub(sks[0]), s.Network()
	sig, _ := s.SignRandao(pk, 3)
	if !verify(t, sk, n.RandaoSigningRoot(3), sig) {
		t.Error("randao")
	}
	sig, _ = s.SignSelectionProof(pk, 19)
	if !verify(t, sk, n.SelectionProofSigningRoot(19), sig) {
		t.Error("selection proof")
	}
	if sigs, err := s.SignSelectionProofs(19, []phase0.BLSPubKey{pk, pk}); err != nil || sigs[0] != sig || sigs[1] != sig {
		t.Errorf("SignSelectionProofs differs from SignSelectionProof: %v", err)
	}
	if _, err := s.SignSelectionProofs(19, []phase0.BLSPubKey{pk, {}}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("SignSelectionProofs with an unknown key: %v", err)
	}
	sig, _ = s.SignSyncCommitteeMessage(pk, 19, phase0.Root{7})
	if !verify(t, sk, SigningRoot(phase0.Root{7}, n.Domain(DomainSyncCommittee, 2)), sig) {
		t.Error("sync committee message")
	}
	reg := &apiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{1}, GasLimit: 30_000_000, Timestamp: time.Unix(1_700_000_000, 0), Pubkey: pk}
	sig, err := s.SignRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	rr, _ := reg.HashTreeRoot()
	// Builder registrations: genesis fork version 0x10, zero genesis validators root.
	if !verify(t, sk, SigningRoot(rr, ComputeDomain(DomainApplicationBuilder, phase0.Version{0x10}, phase0.Root{})), sig) {
		t.Error("registration")
	}
	sig, _ = s.SignSyncSelectionProof(pk, 19, 2)
	sr, _ := n.SyncSelectionSigningRoot(19, 2)
	if !verify(t, sk, sr, sig) {
		t.Error("sync selection proof")
	}
	if _, err := s.SignRandao(phase0.BLSPubKey{}, 1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
}
