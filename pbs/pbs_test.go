package pbs_test

import (
	"encoding/hex"
	"errors"
	"testing"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderspec "github.com/attestantio/go-builder-client/spec"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pbs"
)

// The mainnet builder domain (genesis fork version 0x00000000, zero root), as mev-boost and
// every relay compute it: 0x00000001 followed by sha256(zero version chunk | zero root)[:28].
func TestBuilderDomainMainnet(t *testing.T) {
	d := pbs.BuilderDomain(phase0.Version{})
	if got, want := hex.EncodeToString(d[:]), "00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9"; got != want {
		t.Fatalf("builder domain %s, want %s", got, want)
	}
	if pbs.BuilderDomain(phase0.Version{1}) == d {
		t.Fatal("the builder domain ignores the genesis fork version")
	}
}

func key(t testing.TB) (*bls.SecretKey, phase0.BLSPubKey) {
	t.Helper()
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk, phase0.BLSPubKey(sk.PublicKey().Bytes())
}

func testPayload() *deneb.ExecutionPayload {
	return &deneb.ExecutionPayload{
		ParentHash: phase0.Hash32{1}, FeeRecipient: bellatrix.ExecutionAddress{2}, BlockNumber: 7, GasLimit: 36_000_000,
		GasUsed: 21_000, Timestamp: 1234, ExtraData: []byte("x"), BaseFeePerGas: uint256.NewInt(7), BlockHash: phase0.Hash32{3},
		Transactions: []bellatrix.Transaction{{0x02, 1, 2, 3}, make([]byte, 100)},
		Withdrawals:  []*capella.Withdrawal{{Index: 1, ValidatorIndex: 2, Amount: 3}},
	}
}

func signedBid(t *testing.T, sk *bls.SecretKey, pk phase0.BLSPubKey, domain phase0.Domain, h *deneb.ExecutionPayloadHeader, value uint64) *builderspec.VersionedSignedBuilderBid {
	t.Helper()
	m := &builderelectra.BuilderBid{Header: h, BlobKZGCommitments: []deneb.KZGCommitment{},
		ExecutionRequests: &electra.ExecutionRequests{}, Value: uint256.NewInt(value), Pubkey: pk}
	sig, err := pbs.Sign(sk, m, domain)
	if err != nil {
		t.Fatal(err)
	}
	return &builderspec.VersionedSignedBuilderBid{Version: spec.DataVersionElectra, Electra: &builderelectra.SignedBuilderBid{Message: m, Signature: sig}}
}

func TestCheckBid(t *testing.T) {
	domain := pbs.BuilderDomain(phase0.Version{0x10, 0, 0, 0x7a})
	sk, pk := key(t)
	_, other := key(t)
	h, err := pbs.HeaderOf(testPayload())
	if err != nil {
		t.Fatal(err)
	}
	good := func() *builderspec.VersionedSignedBuilderBid { return signedBid(t, sk, pk, domain, h, 100) }
	checks := pbs.BidChecks{Version: spec.DataVersionElectra, ParentHash: h.ParentHash, RelayPubkey: pk, MinValue: uint256.NewInt(10)}
	if err := pbs.CheckBid(good(), domain, checks); err != nil {
		t.Fatalf("good bid refused: %v", err)
	}
	cases := map[string]func(b *builderspec.VersionedSignedBuilderBid, c *pbs.BidChecks, d *phase0.Domain){
		"value changed after signing": func(b *builderspec.VersionedSignedBuilderBid, _ *pbs.BidChecks, _ *phase0.Domain) {
			b.Electra.Message.Value = uint256.NewInt(101)
		},
		"other domain": func(_ *builderspec.VersionedSignedBuilderBid, _ *pbs.BidChecks, d *phase0.Domain) {
			*d = pbs.BuilderDomain(phase0.Version{})
		},
		"other relay": func(_ *builderspec.VersionedSignedBuilderBid, c *pbs.BidChecks, _ *phase0.Domain) {
			c.RelayPubkey = other
		},
		"other parent": func(_ *builderspec.VersionedSignedBuilderBid, c *pbs.BidChecks, _ *phase0.Domain) {
			c.ParentHash = phase0.Hash32{9}
		},
		"below minimum": func(_ *builderspec.VersionedSignedBuilderBid, c *pbs.BidChecks, _ *phase0.Domain) {
			c.MinValue = uint256.NewInt(101)
		},
		"wrong fork": func(_ *builderspec.VersionedSignedBuilderBid, c *pbs.BidChecks, _ *phase0.Domain) {
			c.Version = spec.DataVersionFulu
		},
		"no header": func(b *builderspec.VersionedSignedBuilderBid, _ *pbs.BidChecks, _ *phase0.Domain) {
			b.Electra.Message.Header = nil
		},
		"signature garbage": func(b *builderspec.VersionedSignedBuilderBid, _ *pbs.BidChecks, _ *phase0.Domain) {
			b.Electra.Signature[0] ^= 0xff
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			b, c, d := good(), checks, domain
			mod(b, &c, &d)
			if err := pbs.CheckBid(b, d, c); !errors.Is(err, pbs.ErrBidRefused) {
				t.Fatalf("got %v, want ErrBidRefused", err)
			}
		})
	}
	zero := signedBid(t, sk, pk, domain, h, 0)
	if err := pbs.CheckBid(zero, domain, pbs.BidChecks{ParentHash: h.ParentHash}); !errors.Is(err, pbs.ErrBidRefused) {
		t.Fatalf("zero-value bid: %v", err)
	}
}

func TestCheckRegistration(t *testing.T) {
	domain := pbs.BuilderDomain(phase0.Version{})
	sk, pk := key(t)
	m := &builderapiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{1}, GasLimit: 30_000_000, Pubkey: pk}
	sig, err := pbs.Sign(sk, m, domain)
	if err != nil {
		t.Fatal(err)
	}
	r := &builderapiv1.SignedValidatorRegistration{Message: m, Signature: sig}
	if err := pbs.CheckRegistration(r, domain); err != nil {
		t.Fatalf("good registration: %v", err)
	}
	m.GasLimit++
	if err := pbs.CheckRegistration(r, domain); !errors.Is(err, pbs.ErrRegistration) || !errors.Is(err, pbs.ErrInvalidSignature) {
		t.Fatalf("tampered registration: %v", err)
	}
	if err := pbs.CheckRegistration(&builderapiv1.SignedValidatorRegistration{}, domain); !errors.Is(err, pbs.ErrRegistration) {
		t.Fatalf("empty registration: %v", err)
	}
	m.Pubkey = phase0.BLSPubKey{0xc0} // the point at infinity
	if err := pbs.CheckRegistration(r, domain); !errors.Is(err, pbs.ErrBadKey) {
		t.Fatalf("infinity key: %v", err)
	}
}

// A header and its payload share the hash tree root; any field changed breaks it.
func TestHeaderOfAndCheckPayload(t *testing.T) {
	p := testPayload()
	h, err := pbs.HeaderOf(p)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := p.HashTreeRoot()
	hr, _ := h.HashTreeRoot()
	if pr != hr {
		t.Fatalf("payload root %x, header root %x", pr, hr)
	}
	if err := pbs.CheckPayload(h, p); err != nil {
		t.Fatal(err)
	}
	p.Transactions[0][1] ^= 1
	if err := pbs.CheckPayload(h, p); !errors.Is(err, pbs.ErrHeaderMismatch) {
		t.Fatalf("changed transaction: %v", err)
	}
	p.Transactions[0][1] ^= 1
	p.Withdrawals[0].Amount++
	if err := pbs.CheckPayload(h, p); !errors.Is(err, pbs.ErrHeaderMismatch) {
		t.Fatalf("changed withdrawal: %v", err)
	}
}

func TestCheckBlindedBlockAndUnblind(t *testing.T) {
	p := testPayload()
	h, _ := pbs.HeaderOf(p)
	sk, pk := key(t)
	b := &apiv1electra.SignedBlindedBeaconBlock{Message: &apiv1electra.BlindedBeaconBlock{Slot: 5, ProposerIndex: 1,
		Body: &apiv1electra.BlindedBeaconBlockBody{ETH1Data: &phase0.ETH1Data{BlockHash: make([]byte, 32)},
			SyncAggregate:          &altair.SyncAggregate{SyncCommitteeBits: make([]byte, 64)},
			ExecutionPayloadHeader: h, ExecutionRequests: &electra.ExecutionRequests{}}}}
	fork, gvr := phase0.Version{0x60, 0, 0, 0x7a}, phase0.Root{4}
	d, _ := pbs.ComputeDomain(pbs.DomainBeaconProposer, fork, gvr)
	b.Signature, _ = pbs.Sign(sk, b.Message, d)
	if err := pbs.VerifyProposerSignature(b, pk, fork, gvr); err != nil {
		t.Fatalf("proposer signature: %v", err)
	}
	if err := pbs.VerifyProposerSignature(b, pk, phase0.Version{0x70, 0, 0, 0x7a}, gvr); err == nil {
		t.Fatal("signature accepted under another fork version")
	}
	if err := pbs.CheckBlindedBlock(b, h); err != nil {
		t.Fatal(err)
	}
	other := *h
	other.GasUsed++
	if err := pbs.CheckBlindedBlock(b, &other); !errors.Is(err, pbs.ErrHeaderMismatch) {
		t.Fatalf("other header: %v", err)
	}
	full, err := pbs.Unblind(spec.DataVersionElectra, b, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	fr, _ := full.Electra.SignedBlock.Message.HashTreeRoot()
	br, _ := b.Message.HashTreeRoot()
	if fr != br {
		t.Fatal("the unblinded block's root is not the blinded block's")
	}
	p.GasUsed++
	if _, err := pbs.Unblind(spec.DataVersionElectra, b, p, nil); !errors.Is(err, pbs.ErrHeaderMismatch) {
		t.Fatalf("unblind with another payload: %v", err)
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{pbs.MediaJSON, pbs.MediaSSZ}
	cases := []struct {
		accept, want string
	}{
		{"", pbs.MediaJSON},
		{"*/*", pbs.MediaJSON},
		{"application/octet-stream", pbs.MediaSSZ},
		{"application/octet-stream;q=1,application/json;q=0.9", pbs.MediaSSZ}, // go-builder-client
		{"application/json;q=0.5, application/octet-stream;q=0.6", pbs.MediaSSZ},
		{"application/*;q=0.2, application/json", pbs.MediaJSON},
		{"application/json;q=0, */*", pbs.MediaSSZ},
		{"text/html", ""},
		{"application/json;q=0", ""},
	}
	for _, c := range cases {
		got, err := pbs.Negotiate(c.accept, offers...)
		if c.want == "" {
			if !errors.Is(err, pbs.ErrNotAcceptable) {
				t.Errorf("Accept %q: got %q, %v; want ErrNotAcceptable", c.accept, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Accept %q: got %q, %v; want %q", c.accept, got, err, c.want)
		}
	}
	for ct, want := range map[string]error{"": nil, "application/json": nil, "application/octet-stream": nil,
		"application/json; charset=utf-8": nil, "text/plain": pbs.ErrUnsupportedMediaType, ";;": pbs.ErrUnsupportedMediaType} {
		if _, err := pbs.RequestMediaType(ct); !errors.Is(err, want) {
			t.Errorf("Content-Type %q: %v, want %v", ct, err, want)
		}
	}
	for h, want := range map[string]spec.DataVersion{"electra": spec.DataVersionElectra, "Fulu": spec.DataVersionFulu} {
		if v, err := pbs.ParseVersion(h); err != nil || v != want {
			t.Errorf("version %q: %v %v", h, v, err)
		}
	}
	for _, h := range []string{"", "deneb", "x"} {
		if _, err := pbs.ParseVersion(h); !errors.Is(err, pbs.ErrVersion) {
			t.Errorf("version %q accepted", h)
		}
	}
}
