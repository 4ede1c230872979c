package beacon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// post sends body to the node and returns the status and the error message of the answer.
func post(t *testing.T, tn *testNet, path string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tn.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &e); err != nil || e.Code != resp.StatusCode {
			t.Fatalf("POST %s: status %d with a body that is not the Beacon API error shape: %q", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, e.Message
}

// duty finds the committee position of a validator attesting at slot.
func duty(t *testing.T, tn *testNet, slot phase0.Slot) (idx phase0.ValidatorIndex, committee phase0.CommitteeIndex, others []phase0.ValidatorIndex) {
	t.Helper()
	var all []phase0.ValidatorIndex
	for i := range tn.node.Genesis().Validators {
		all = append(all, phase0.ValidatorIndex(i))
	}
	e := phase0.Epoch(uint64(slot) / tn.node.Preset().SlotsPerEpoch)
	resp, err := tn.client.AttesterDuties(context.Background(), &api.AttesterDutiesOpts{Epoch: e, Indices: all})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range resp.Data {
		if d.Slot == slot && !found {
			idx, committee, found = d.ValidatorIndex, d.CommitteeIndex, true
		} else if d.Slot != slot {
			others = append(others, d.ValidatorIndex)
		}
	}
	if !found {
		t.Fatalf("no attester at slot %d", slot)
	}
	return idx, committee, others
}

// single builds a SingleAttestation of data by attester, signed by signer under domainType.
func single(t *testing.T, tn *testNet, attester, signer phase0.ValidatorIndex, committee phase0.CommitteeIndex, data *phase0.AttestationData, domainType [4]byte) []byte {
	t.Helper()
	root, err := data.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	dom := consensus.ComputeDomain(domainType, beacon.ElectraForkVersion, tn.node.GenesisValidatorsRoot())
	sr := consensus.SigningRoot(root, dom)
	sig := tn.node.Genesis().Secrets[signer].Sign(sr[:]).Bytes()
	b, err := json.Marshal([]*electra.SingleAttestation{{CommitteeIndex: committee, AttesterIndex: attester, Data: data, Signature: sig}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attestationData(t *testing.T, tn *testNet, slot phase0.Slot) *phase0.AttestationData {
	t.Helper()
	resp, err := tn.client.AttestationData(context.Background(), &api.AttestationDataOpts{Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Data
}

var electraHdr = map[string]string{"Eth-Consensus-Version": "electra"}

func TestAttestationsRefusedWithReason(t *testing.T) {
	tn := newTestNet(t, 16, func(c *beacon.Config) { c.MaxBodyBytes = 64 << 10 })
	slot := phase0.Slot(3)
	tn.at(slot, 0.4)
	data := attestationData(t, tn, slot)
	att, committee, others := duty(t, tn, slot)
	path := "/eth/v2/beacon/pool/attestations"

	cases := []struct {
		name string
		body []byte
		hdr  map[string]string
		code int
		want string
	}{
		{"bad signature (another key)", single(t, tn, att, others[0], committee, data, consensus.DomainBeaconAttester), electraHdr, 400, "invalid signature"},
		{"wrong domain (proposer)", single(t, tn, att, att, committee, data, consensus.DomainBeaconProposer), electraHdr, 400, "invalid signature"},
		{"wrong committee", single(t, tn, others[0], others[0], committee, data, consensus.DomainBeaconAttester), electraHdr, 400, "not a member of committee"},
		{"malformed JSON", []byte(`[{"committee_index":"0",`), electraHdr, 400, "malformed"},
		{"missing consensus version", single(t, tn, att, att, committee, data, consensus.DomainBeaconAttester), nil, 400, "Eth-Consensus-Version"},
		{"wrong fork", single(t, tn, att, att, committee, data, consensus.DomainBeaconAttester), map[string]string{"Eth-Consensus-Version": "deneb"}, 400, "wrong fork"},
		{"oversized body", bytes.Repeat([]byte(" "), 100<<10), electraHdr, 413, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := post(t, tn, path, c.body, c.hdr)
			if code != c.code || !strings.Contains(msg, c.want) {
				t.Fatalf("got %d %q, want %d and a message with %q", code, msg, c.code, c.want)
			}
		})
	}
	// The node keeps serving: the honest attestation is accepted after all of the above.
	if code, msg := post(t, tn, path, single(t, tn, att, att, committee, data, consensus.DomainBeaconAttester), electraHdr); code != 200 {
		t.Fatalf("valid attestation after refusals: %d %q", code, msg)
	}
	// The same again is harmless; other data for the same target is a double vote.
	if code, msg := post(t, tn, path, single(t, tn, att, att, committee, data, consensus.DomainBeaconAttester), electraHdr); code != 200 {
		t.Fatalf("repeat of an accepted attestation: %d %q", code, msg)
	}
	other := *data
	other.BeaconBlockRoot = data.Target.Root // another known root: still valid data
	other.Source = &phase0.Checkpoint{Epoch: 0, Root: phase0.Root{1}}
	code, msg := post(t, tn, path, single(t, tn, att, att, committee, &other, consensus.DomainBeaconAttester), electraHdr)
	if code != 400 || !strings.Contains(msg, "double vote") {
		t.Fatalf("double vote: got %d %q, want 400 slashable double vote", code, msg)
	}
}

// A surround vote is refused against an earlier attestation of the same validator: the chain is
// empty (every checkpoint is the genesis block), so votes can name any source.
func TestSurroundVoteRefused(t *testing.T) {
	tn := newTestNet(t, 16, nil)
	spe := tn.node.Preset().SlotsPerEpoch
	slotA := phase0.Slot(3*spe + 1) // epoch 3
	tn.at(slotA, 0.4)
	attA, committeeA, _ := duty(t, tn, slotA)
	dataA := attestationData(t, tn, slotA)
	dataA.Source = &phase0.Checkpoint{Epoch: 2, Root: dataA.Target.Root}
	if code, msg := post(t, tn, "/eth/v2/beacon/pool/attestations", single(t, tn, attA, attA, committeeA, dataA, consensus.DomainBeaconAttester), electraHdr); code != 200 {
		t.Fatalf("first vote (2 -> 3): %d %q", code, msg)
	}
	// In epoch 4 the same validator votes 0 -> 4, which surrounds 2 -> 3.
	for s := phase0.Slot(4 * spe); s < phase0.Slot(5*spe); s++ {
		tn.at(s, 0.4)
		resp, err := tn.client.AttesterDuties(context.Background(), &api.AttesterDutiesOpts{Epoch: 4, Indices: []phase0.ValidatorIndex{attA}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Data[0].Slot != s {
			continue
		}
		dataB := attestationData(t, tn, s)
		dataB.Source = &phase0.Checkpoint{Epoch: 0, Root: dataB.Target.Root}
		code, msg := post(t, tn, "/eth/v2/beacon/pool/attestations", single(t, tn, attA, attA, resp.Data[0].CommitteeIndex, dataB, consensus.DomainBeaconAttester), electraHdr)
		if code != 400 || !strings.Contains(msg, "surround") {
			t.Fatalf("surround vote: got %d %q, want 400 slashable surround", code, msg)
		}
		return
	}
	t.Fatal("validator has no duty in epoch 4")
}

func TestBlockFromWrongProposerRefused(t *testing.T) {
	tn := newTestNet(t, 16, nil)
	ctx := context.Background()
	slot := phase0.Slot(1)
	tn.at(slot, 0.1)
	duties, err := tn.client.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: 0})
	if err != nil {
		t.Fatal(err)
	}
	prop := duties.Data[slot].ValidatorIndex
	wrong := (prop + 1) % 16
	sk := tn.node.Genesis().Secrets
	gvr := tn.node.GenesisValidatorsRoot()
	rr := consensus.SigningRoot(consensus.EpochRoot(0), consensus.ComputeDomain(consensus.DomainRandao, beacon.ElectraForkVersion, gvr))
	reveal := phase0.BLSSignature(sk[prop].Sign(rr[:]).Bytes())
	p, err := tn.client.Proposal(ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal})
	if err != nil {
		t.Fatal(err)
	}
	blk := p.Data.Electra.Block
	blk.ProposerIndex = wrong
	root, _ := blk.HashTreeRoot()
	sr := consensus.SigningRoot(root, consensus.ComputeDomain(consensus.DomainBeaconProposer, beacon.ElectraForkVersion, gvr))
	body, _ := json.Marshal(map[string]any{"signed_block": &electra.SignedBeaconBlock{Message: blk, Signature: sk[wrong].Sign(sr[:]).Bytes()}, "kzg_proofs": []string{}, "blobs": []string{}})
	code, msg := post(t, tn, "/eth/v2/beacon/blocks", body, electraHdr)
	if code != 400 || !strings.Contains(msg, "wrong proposer") {
		t.Fatalf("block from the wrong proposer: %d %q", code, msg)
	}
	// Signed by the right proposer with the right index, the same block is accepted.
	blk.ProposerIndex = prop
	root, _ = blk.HashTreeRoot()
	sr = consensus.SigningRoot(root, consensus.ComputeDomain(consensus.DomainBeaconProposer, beacon.ElectraForkVersion, gvr))
	body, _ = json.Marshal(map[string]any{"signed_block": &electra.SignedBeaconBlock{Message: blk, Signature: sk[prop].Sign(sr[:]).Bytes()}, "kzg_proofs": []string{}, "blobs": []string{}})
	if code, msg := post(t, tn, "/eth/v2/beacon/blocks", body, electraHdr); code != 200 {
		t.Fatalf("valid block: %d %q", code, msg)
	}
}
