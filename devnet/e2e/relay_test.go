package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	builderclient "github.com/attestantio/go-builder-client"
	builderapi "github.com/attestantio/go-builder-client/api"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// The blinded flow through the devnet node: validators register with the node, which forwards
// to the relay; a builder submits a bid on the slot's payload attributes; the node asks the
// relay for the header (go-builder-client), the proposer signs the blinded block, the node
// unblinds through the relay and imports the block.
func TestBlindedFlowThroughNode(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	for slot := phase0.Slot(1); slot <= 3; slot++ {
		a := h.at(slot, 0)
		idx, pk := h.proposer(slot)
		s := h.builder.build(a, pk, feeRecipient(idx), 1_000_000_000+uint64(slot), byte(slot))
		if code, msg := h.builder.post(s, pbs.MediaSSZ, "", nil); code != 200 {
			t.Fatalf("slot %d: submission: %d %s", slot, code, msg)
		}
		proposed, blinded, err := h.signer.Propose(h.ctx, slot)
		if err != nil || !proposed || !blinded {
			t.Fatalf("slot %d: propose: proposed %v blinded %v err %v", slot, proposed, blinded, err)
		}
		if got := h.headSlot(); got != slot {
			t.Fatalf("slot %d: head at slot %d", slot, got)
		}
		h.builder.imported(s)
	}
}

// go-builder-client's HTTP client as the proposer: it registers, fetches the header (SSZ and
// JSON), and unblinds; the payload matches the header and the full block is imported.
func TestGoBuilderClientProposer(t *testing.T) {
	h := newHarness(t)
	// Registrations straight to the relay with go-builder-client (and to the node, which only
	// asks a builder for bids for registered proposers).
	regs := h.registrations(h.clock.Now())
	vr := make([]*builderapi.VersionedSignedValidatorRegistration, len(regs))
	for i, r := range regs {
		vr[i] = &builderapi.VersionedSignedValidatorRegistration{Version: builderspec.BuilderVersionV1, V1: r}
	}
	if err := h.builderClient().(builderclient.ValidatorRegistrationsSubmitter).SubmitValidatorRegistrations(h.ctx,
		&builderapi.SubmitValidatorRegistrationsOpts{Registrations: vr}); err != nil {
		t.Fatalf("register: %v", err)
	}
	h.registerThroughNode()

	for _, c := range []struct {
		slot     phase0.Slot
		jsonOnly bool
	}{{1, false}, {2, true}} {
		s := h.bidFor(c.slot, 2_000_000_000, 7)
		_, pk := h.proposer(c.slot)
		bid, err := h.getHeader(c.slot, s.Payload.ParentHash, pk)
		if err != nil || bid == nil {
			t.Fatalf("slot %d: getHeader: %v %v", c.slot, bid, err)
		}
		if err := pbs.CheckBid(bid, pbs.BuilderDomain(beacon.GenesisForkVersion), pbs.BidChecks{Version: spec.DataVersionElectra,
			ParentHash: s.Payload.ParentHash, RelayPubkey: h.relayPK}); err != nil {
			t.Fatalf("slot %d: the relay's bid fails the proposer's checks: %v", c.slot, err)
		}
		if bid.Electra.Message.Header.BlockHash != s.Payload.BlockHash || !bid.Electra.Message.Value.Eq(s.Trace.Value) {
			t.Fatalf("slot %d: bid is not the builder's", c.slot)
		}
		signed := h.blindedProposal(c.slot, 1)
		full, err := h.unblind(signed, c.jsonOnly)
		if err != nil {
			t.Fatalf("slot %d: unblind: %v", c.slot, err)
		}
		got, _ := full.Electra.SignedBlock.Message.Body.ExecutionPayload.HashTreeRoot()
		want, _ := s.Payload.HashTreeRoot()
		if got != want {
			t.Fatalf("slot %d: the relay returned another payload", c.slot)
		}
		if err := h.signer.Client.SubmitProposal(h.ctx, &api.SubmitProposalOpts{Proposal: full}); err != nil {
			t.Fatalf("slot %d: node refused the unblinded block: %v", c.slot, err)
		}
		if hs := h.headSlot(); hs != c.slot {
			t.Fatalf("head at %d, want %d", hs, c.slot)
		}
		h.builder.imported(s)
	}
	// No bid for the next slot: 204, which go-builder-client reports as no data.
	a := h.at(3, 0)
	_, pk := h.proposer(3)
	if bid, err := h.getHeader(3, a.ParentBlockHash, pk); err != nil || (bid != nil && !bid.IsEmpty()) {
		t.Fatalf("getHeader without a bid: %v %v", bid, err)
	}
}

// The v2 endpoint: the relay publishes the block (202) and the node imports it.
func TestV2RelayPublishes(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	s := h.bidFor(1, 3_000_000_000, 9)
	signed := h.blindedProposal(1, 1)
	if code, msg := h.postBlinded("/eth/v2/builder/blinded_blocks", signed); code != http.StatusAccepted {
		t.Fatalf("v2: %d %s", code, msg)
	}
	if hs := h.headSlot(); hs != 1 {
		t.Fatalf("head at %d after the relay published slot 1", hs)
	}
	h.builder.imported(s)
	// The data API reports the delivery.
	resp, err := http.Get(h.plainRelayURL() + "/relay/v1/data/bidtraces/proposer_payload_delivered?slot=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []mev.TraceJSON
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 1 || got[0].BlockHash != fmt.Sprintf("%#x", s.Payload.BlockHash[:]) {
		t.Fatalf("proposer_payload_delivered: %v %+v", err, got)
	}
}

// Once per slot: the same blinded block again gets the same payload (mev-boost retries); a
// different one is proposer equivocation, refused, also after the relay restarts on the same
// database.
func TestDeliveredOnceAcrossRestart(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	s := h.bidFor(1, 1_000_000_000, 1)
	first := h.blindedProposal(1, 1)
	second := h.blindedProposal(1, 2) // same header, other graffiti: another block for the slot
	if _, err := h.unblind(first, false); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	check := func(when string) {
		t.Helper()
		if full, err := h.unblind(first, true); err != nil || full.Electra.SignedBlock.Message.Body.ExecutionPayload.BlockHash != s.Payload.BlockHash {
			t.Fatalf("%s: the same blinded block again: %v", when, err)
		}
		code, msg := h.postBlinded("/eth/v1/builder/blinded_blocks", second)
		if code != http.StatusBadRequest || !strings.Contains(msg, "equivocation") {
			t.Fatalf("%s: a second blinded block: %d %s", when, code, msg)
		}
		if code, msg := h.postBlinded("/eth/v2/builder/blinded_blocks", second); code != http.StatusBadRequest {
			t.Fatalf("%s: a second blinded block on v2: %d %s", when, code, msg)
		}
		// No new header for a delivered slot, and no new bid accepted.
		if bid, err := h.getHeader(1, s.Payload.ParentHash, s.Trace.ProposerPubkey); err != nil || (bid != nil && !bid.IsEmpty()) {
			t.Fatalf("%s: header for a delivered slot: %v %v", when, bid, err)
		}
	}
	check("before restart")
	h.restartRelay()
	check("after restart")
}

// A header served, then the relay restarts: the payload is still delivered, once.
func TestPayloadAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	s := h.bidFor(1, 1_000_000_000, 1)
	signed := h.blindedProposal(1, 1) // the node fetched the header from the relay
	h.restartRelay()
	full, err := h.unblind(signed, false)
	if err != nil {
		t.Fatalf("unblind after restart: %v", err)
	}
	if full.Electra.SignedBlock.Message.Body.ExecutionPayload.BlockHash != s.Payload.BlockHash {
		t.Fatal("another payload after restart")
	}
}
