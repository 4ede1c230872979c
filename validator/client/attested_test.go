package client

import (
	"context"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/signer"
)

type recordingHook struct{ got [][]SignedAttestation }

func (h *recordingHook) Attested(atts []SignedAttestation) { h.got = append(h.got, atts) }

// The hook receives each signed key with the attestation's signing root and domain, as the
// signer computes them (phase0 beacon-chain.md compute_signing_root, get_domain at the target
// epoch); a slot with nothing signed is not handed over.
func TestAttestationHook(t *testing.T) {
	h := &recordingHook{}
	s, err := New(context.Background(), WithBeaconNode("http://x"), WithKeystores("/k", "pw"), WithDatabase("/db"), WithAttestationHook(h))
	if err != nil {
		t.Fatal(err)
	}
	if s.net, err = signer.NewNetwork(signer.NetworkConfig{SlotsPerEpoch: 8, GenesisValidatorsRoot: phase0.Root{9},
		Forks: []signer.Fork{{Epoch: 0, Version: phase0.Version{1}}, {Epoch: 3, Version: phase0.Version{2}}}}); err != nil {
		t.Fatal(err)
	}
	data := &phase0.AttestationData{Slot: 33, BeaconBlockRoot: phase0.Root{1}, Source: &phase0.Checkpoint{Epoch: 3},
		Target: &phase0.Checkpoint{Epoch: 4, Root: phase0.Root{2}}}
	s.attested(data, nil)
	if len(h.got) != 0 {
		t.Fatal("a slot without signatures was handed over")
	}
	pks := []phase0.BLSPubKey{{1}, {2}}
	s.attested(data, pks)
	if len(h.got) != 1 || len(h.got[0]) != 2 {
		t.Fatalf("hook calls %v", h.got)
	}
	want, err := s.net.AttestationSigningRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	domain := signer.ComputeDomain(signer.DomainBeaconAttester, phase0.Version{2}, phase0.Root{9})
	for i, a := range h.got[0] {
		if a.Pubkey != pks[i] || a.Data != data || a.SigningRoot != want || a.Domain != domain {
			t.Fatalf("attestation %d: %+v", i, a)
		}
		dataRoot, _ := data.HashTreeRoot()
		if signer.SigningRoot(dataRoot, a.Domain) != a.SigningRoot {
			t.Fatal("signing root is not compute_signing_root(data, domain)")
		}
	}
}

// WithDB stands in for WithDatabase's directory.
func TestWithDBReplacesDatabaseDir(t *testing.T) {
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := New(context.Background(), WithBeaconNode("http://x"), WithKeystores("/k", "pw"), WithDB(d)); err != nil {
		t.Fatalf("WithDB without a directory: %v", err)
	}
}
