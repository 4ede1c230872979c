package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/pbs"
)

// The payload is released only for a header the relay served: the node fetches bid A's header
// and the proposer signs it; the builder then outbids itself with B, whose header nobody asked
// for. After a restart, a blinded block the proposer signs over B's header (everything else
// valid) is refused, and A's is delivered: the served record is durable.
func TestPayloadOnlyForServedHeader(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	sA := h.bidFor(1, 1_000_000_000, 1)
	signedA := h.blindedProposal(1, 1) // the node fetched A's header from the relay
	if signedA.Electra.Message.Body.ExecutionPayloadHeader.BlockHash != sA.Payload.BlockHash {
		t.Fatal("the node did not take A's header")
	}
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	sB := h.builder.build(a, pk, feeRecipient(idx), 2_000_000_000, 2)
	if code, msg := h.builder.post(sB, pbs.MediaSSZ, "", nil); code != http.StatusOK {
		t.Fatalf("bid B: %d %s", code, msg)
	}
	hdrB, err := pbs.HeaderOf(sB.Payload)
	if err != nil {
		t.Fatal(err)
	}
	m := *signedA.Electra.Message
	body := *m.Body
	body.ExecutionPayloadHeader = hdrB
	m.Body = &body
	gvr := h.node.GenesisValidatorsRoot()
	d, _ := pbs.ComputeDomain(pbs.DomainBeaconProposer, beacon.ElectraForkVersion, gvr)
	sig, err := pbs.Sign(h.node.Genesis().Secrets[idx], &m, d)
	if err != nil {
		t.Fatal(err)
	}
	forged := &api.VersionedSignedBlindedProposal{Version: spec.DataVersionElectra,
		Electra: &apiv1electra.SignedBlindedBeaconBlock{Message: &m, Signature: phase0.BLSSignature(sig)}}

	h.restartRelay()
	code, msg := h.postBlinded("/eth/v1/builder/blinded_blocks", forged)
	if code != http.StatusBadRequest || !strings.Contains(msg, "did not serve a header with block hash "+sB.Payload.BlockHash.String()) {
		t.Fatalf("blinded block over a header the relay never served: %d %s", code, msg)
	}
	full, err := h.unblind(signedA, false)
	if err != nil {
		t.Fatalf("the served header's payload after a restart: %v", err)
	}
	if full.Electra.SignedBlock.Message.Body.ExecutionPayload.BlockHash != sA.Payload.BlockHash {
		t.Fatal("another payload than the served header's")
	}
}
