package beacon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// TestBlindedBlocks proposes through a builder: produceBlockV3 answers a blinded block carrying the
// builder's header and value, publishBlindedBlockV2 (JSON through go-eth2-client, SSZ by plain
// HTTP) has the builder reveal the payload, and the block fetched carries the builder's payload.
// A blinded block whose header is not the bid's is refused. In both go-eth2-client modes.
func TestBlindedBlocks(t *testing.T) {
	for _, mode := range apiModes {
		t.Run(mode.name, func(t *testing.T) { testBlinded(t, mode.json) })
	}
}

func testBlinded(t *testing.T, enforceJSON bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ck := &clock{now: genesisTime}
	value := uint256.NewInt(50_000_000_000_000_000)
	b, err := beacontest.NewBuilder(beacontest.BuilderConfig{Now: ck.Now, Value: value})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	node, err := beacon.New(ctx, beacon.Config{Validators: 16, GenesisTime: genesisTime, SlotTime: 2 * time.Second, Now: ck.Now, BuilderURL: b.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close() // no Run to close it
	srv := httptest.NewServer(node.Handler())
	defer srv.Close()
	defer cancel()
	if err := b.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	svc := dial(t, srv.URL, enforceJSON, rec)
	an := &apiNet{testNet: &testNet{node: node, url: srv.URL, clock: ck, client: svc}, svc: svc, rec: rec, json: enforceJSON}

	// Every validator registers with the builder through the node (a node asks for bids only for
	// registered proposers).
	dom := computeDomain(t, domainBuilder, beacon.GenesisForkVersion, phase0.Root{})
	var regs []*api.VersionedSignedValidatorRegistration
	for i, v := range node.Genesis().Validators {
		m := &apiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{0xb0}, GasLimit: 36_000_000, Timestamp: genesisTime, Pubkey: v.Pubkey}
		root, _ := m.HashTreeRoot()
		regs = append(regs, &api.VersionedSignedValidatorRegistration{Version: spec.BuilderVersionV1,
			V1: &apiv1.SignedValidatorRegistration{Message: m, Signature: an.signRoot(t, phase0.ValidatorIndex(i), root, dom)}})
	}
	if err := svc.SubmitValidatorRegistrations(ctx, regs); err != nil {
		t.Fatal(err)
	}

	// Slot 1 with builder_boost_factor 0: local. Its import announces slot 2's attributes.
	an.at(1, 0.1)
	prop := an.proposerOf(t, 1)
	reveal := an.signRoot(t, prop, uintRoot(0), an.domain(t, domainRandao, 0))
	zero := uint64(0)
	p1, err := svc.Proposal(ctx, &api.ProposalOpts{Slot: 1, RandaoReveal: reveal, BuilderBoostFactor: &zero})
	if err != nil || p1.Data.Blinded {
		t.Fatalf("proposal with boost factor 0: %v, blinded %v", err, err == nil && p1.Data.Blinded)
	}
	r1, _ := p1.Data.Electra.Block.HashTreeRoot()
	if err := svc.SubmitProposal(ctx, &api.SubmitProposalOpts{Proposal: &api.VersionedSignedProposal{Version: spec.DataVersionElectra,
		Electra: &apiv1electra.SignedBlockContents{SignedBlock: &electra.SignedBeaconBlock{Message: p1.Data.Electra.Block,
			Signature: an.signRoot(t, prop, r1, an.domain(t, domainProposer, 0))}, KZGProofs: p1.Data.Electra.KZGProofs, Blobs: p1.Data.Electra.Blobs}}}); err != nil {
		t.Fatal(err)
	}

	for slot := phase0.Slot(2); slot <= 3; slot++ {
		an.at(slot, 0.1)
		prop := an.proposerOf(t, slot)
		reveal := an.signRoot(t, prop, uintRoot(0), an.domain(t, domainRandao, 0))
		resp, err := svc.Proposal(ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal})
		if err != nil {
			t.Fatalf("proposal at %d: %v", slot, err)
		}
		pr := resp.Data
		bid, ok := b.BidPayload(slot)
		if !pr.Blinded || pr.ElectraBlinded == nil || !ok || pr.ExecutionValue == nil || pr.ExecutionValue.Cmp(value.ToBig()) != 0 {
			t.Fatalf("slot %d: blinded %v, value %v, builder bid %v: want a blinded block worth the bid %s", slot, pr.Blinded, pr.ExecutionValue, ok, value)
		}
		if pr.ElectraBlinded.Body.ExecutionPayloadHeader.BlockHash != bid.BlockHash {
			t.Fatalf("slot %d: the blinded block's header is not the bid's", slot)
		}
		blk := pr.ElectraBlinded
		root, _ := blk.HashTreeRoot()
		signed := &apiv1electra.SignedBlindedBeaconBlock{Message: blk, Signature: an.signRoot(t, prop, root, an.domain(t, domainProposer, 0))}
		if slot == 2 {
			err = svc.SubmitBlindedProposal(ctx, &api.SubmitBlindedProposalOpts{Proposal: &api.VersionedSignedBlindedProposal{Version: spec.DataVersionElectra, Electra: signed}})
			if err != nil {
				t.Fatalf("publish blinded block 2: %v", err)
			}
		} else {
			// A header that is not the bid's, properly signed, is refused before the builder is asked.
			forged := *blk
			body := *blk.Body
			hdr := *blk.Body.ExecutionPayloadHeader
			hdr.GasLimit++
			body.ExecutionPayloadHeader = &hdr
			forged.Body = &body
			fr, _ := forged.HashTreeRoot()
			bad := &apiv1electra.SignedBlindedBeaconBlock{Message: &forged, Signature: an.signRoot(t, prop, fr, an.domain(t, domainProposer, 0))}
			data, _ := bad.MarshalSSZ()
			code, _, msg := request(t, http.MethodPost, srv.URL+"/eth/v2/beacon/blinded_blocks", data, map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"})
			if code != 400 || !strings.Contains(string(msg), "not the header of the bid") {
				t.Fatalf("blinded block with another header: %d %s", code, msg)
			}
			data, _ = signed.MarshalSSZ()
			code, _, msg = request(t, http.MethodPost, srv.URL+"/eth/v2/beacon/blinded_blocks", data, map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"})
			if code != 200 {
				t.Fatalf("publish blinded block 3 as SSZ: %d %s", code, msg)
			}
		}
		fetched, err := svc.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: fmt.Sprint(slot)})
		if err != nil {
			t.Fatal(err)
		}
		fb := fetched.Data.Electra
		fr, _ := fb.Message.HashTreeRoot()
		if fr != root || fb.Signature != signed.Signature || fb.Message.Body.ExecutionPayload.BlockHash != bid.BlockHash {
			t.Fatalf("block %d fetched is not the blinded block published with the builder's payload", slot)
		}
	}
	if revealed := b.Counts().Payloads; revealed != 2 {
		t.Fatalf("the builder revealed %d payloads, want 2", revealed)
	}
	wantType := "application/octet-stream"
	if enforceJSON {
		wantType = "application/json"
	}
	for _, e := range rec.seen("GET", "/eth/v3/validator/blocks/") {
		if !strings.HasPrefix(e.respType, wantType) {
			t.Fatalf("proposal answered as %q, want %s", e.respType, wantType)
		}
	}
}
