package beacon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	builderdeneb "github.com/attestantio/go-builder-client/api/deneb"
	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	ssz "github.com/ferranbt/fastssz"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
)

// biddingBuilder is a builder-API server on 127.0.0.1 that bids as a relay does: it learns each
// slot's payload attributes from the node's payload_attributes events, builds the payload on its
// own execution chain (kept in step with the node's blocks), signs the bid with its own key under
// DOMAIN_APPLICATION_BUILDER, and reveals the payload for a signed blinded block.
type biddingBuilder struct {
	t     *testing.T
	url   string
	sk    *bls.SecretKey
	value *uint256.Int
	node  *beacon.Node

	mu       sync.Mutex
	chain    *execution.Chain
	attrs    map[phase0.Slot]execution.Attributes
	payloads map[phase0.Hash32]*deneb.ExecutionPayload
	headers  map[phase0.Slot]*deneb.ExecutionPayloadHeader
	revealed int
}

func newBiddingBuilder(t *testing.T, genesis time.Time) *biddingBuilder {
	sk, err := bls.SecretKeyFromBytes(append(make([]byte, 31), 0x2a))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := execution.NewChain(execution.Config{GenesisTime: uint64(genesis.Unix()), ChainID: beacon.DevnetChainID})
	if err != nil {
		t.Fatal(err)
	}
	b := &biddingBuilder{t: t, sk: sk, value: uint256.NewInt(50_000_000_000_000_000), chain: ch,
		attrs: map[phase0.Slot]execution.Attributes{}, payloads: map[phase0.Hash32]*deneb.ExecutionPayload{}, headers: map[phase0.Slot]*deneb.ExecutionPayloadHeader{}}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// onAttributes takes a payload_attributes event.
func (b *biddingBuilder) onAttributes(_ context.Context, ev *apiv1.PayloadAttributesEvent) {
	d := ev.Data
	if d == nil || d.V4 == nil {
		return
	}
	b.mu.Lock()
	b.attrs[d.ProposalSlot] = execution.Attributes{Slot: d.ProposalSlot, ProposerIndex: d.ProposerIndex, ParentBlockRoot: d.ParentBlockRoot,
		ParentBlockHash: d.ParentBlockHash, ParentBlockNumber: d.ParentBlockNumber, Timestamp: d.V4.Timestamp, PrevRandao: d.V4.PrevRandao,
		SuggestedFeeRecipient: d.V4.SuggestedFeeRecipient, Withdrawals: d.V4.Withdrawals}
	b.mu.Unlock()
}

// follow imports a block's payload into the builder's chain (checked against the attributes the
// block implies), as a builder's execution client follows the chain.
func (b *biddingBuilder) follow(blk *electra.BeaconBlock) error {
	p := blk.Body.ExecutionPayload
	b.mu.Lock()
	defer b.mu.Unlock()
	if head, _ := b.chain.Head(); head == p.BlockHash {
		return nil
	}
	attrs := execution.Attributes{Slot: blk.Slot, ProposerIndex: blk.ProposerIndex, ParentBlockRoot: blk.ParentRoot, ParentBlockHash: p.ParentHash,
		ParentBlockNumber: p.BlockNumber - 1, Timestamp: p.Timestamp, PrevRandao: p.PrevRandao, SuggestedFeeRecipient: p.FeeRecipient, Withdrawals: p.Withdrawals}
	if err := b.chain.Check(attrs, p, blk.Body.ExecutionRequests); err != nil {
		return err
	}
	return b.chain.Import(p)
}

func (b *biddingBuilder) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/eth/v1/builder/validators":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/eth/v1/builder/header/"):
		b.bid(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/eth/v1/builder/blinded_blocks":
		b.reveal(w, r)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func builderError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}

func (b *biddingBuilder) bid(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/eth/v1/builder/header/"), "/")
	if len(parts) != 3 {
		builderError(w, 400, "bad header request")
		return
	}
	slot, _ := strconv.ParseUint(parts[0], 10, 64)
	b.mu.Lock()
	defer b.mu.Unlock()
	attrs, ok := b.attrs[phase0.Slot(slot)]
	if !ok || fmt.Sprintf("%#x", attrs.ParentBlockHash) != parts[1] {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, reqs, err := b.chain.Build(attrs, nil, 0, b.value)
	if err != nil {
		builderError(w, 500, err.Error())
		return
	}
	h, err := payloadHeader(p)
	if err != nil {
		builderError(w, 500, err.Error())
		return
	}
	pk := b.sk.PublicKey().Bytes()
	msg := &builderelectra.BuilderBid{Header: h, BlobKZGCommitments: []deneb.KZGCommitment{}, ExecutionRequests: reqs, Value: b.value, Pubkey: phase0.BLSPubKey(pk)}
	root, err := msg.HashTreeRoot()
	if err != nil {
		builderError(w, 500, err.Error())
		return
	}
	dom := computeDomain(b.t, domainBuilder, beacon.GenesisForkVersion, phase0.Root{})
	sr, _ := (&phase0.SigningData{ObjectRoot: root, Domain: dom}).HashTreeRoot()
	signed := &builderelectra.SignedBuilderBid{Message: msg, Signature: phase0.BLSSignature(b.sk.Sign(sr[:]).Bytes())}
	b.payloads[p.BlockHash] = p
	b.headers[phase0.Slot(slot)] = h
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Eth-Consensus-Version", "electra")
	_ = json.NewEncoder(w).Encode(map[string]any{"version": "electra", "data": signed})
}

func (b *biddingBuilder) reveal(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var sb apiv1electra.SignedBlindedBeaconBlock
	if err := json.Unmarshal(body, &sb); err != nil {
		builderError(w, 400, err.Error())
		return
	}
	b.mu.Lock()
	p, ok := b.payloads[sb.Message.Body.ExecutionPayloadHeader.BlockHash]
	if ok {
		b.revealed++
	}
	b.mu.Unlock()
	if !ok {
		builderError(w, 400, "unknown payload")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Eth-Consensus-Version", "electra")
	_ = json.NewEncoder(w).Encode(map[string]any{"version": "electra", "data": &builderdeneb.ExecutionPayloadAndBlobsBundle{
		ExecutionPayload: p, BlobsBundle: &builderdeneb.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}}})
}

// payloadHeader is the ExecutionPayloadHeader of p (deneb beacon-chain.md): every field copied,
// transactions_root and withdrawals_root the hash_tree_roots of the lists.
func payloadHeader(p *deneb.ExecutionPayload) (*deneb.ExecutionPayloadHeader, error) {
	h := ssz.NewHasher()
	idx := h.Index()
	for _, tx := range p.Transactions {
		e := h.Index()
		h.AppendBytes32(tx)
		h.MerkleizeWithMixin(e, uint64(len(tx)), (1073741824+31)/32) // MAX_BYTES_PER_TRANSACTION
	}
	h.MerkleizeWithMixin(idx, uint64(len(p.Transactions)), 1048576) // MAX_TRANSACTIONS_PER_PAYLOAD
	txRoot, err := h.HashRoot()
	if err != nil {
		return nil, err
	}
	h = ssz.NewHasher()
	idx = h.Index()
	for _, wd := range p.Withdrawals {
		if err := wd.HashTreeRootWith(h); err != nil {
			return nil, err
		}
	}
	h.MerkleizeWithMixin(idx, uint64(len(p.Withdrawals)), 16) // MAX_WITHDRAWALS_PER_PAYLOAD
	wdRoot, err := h.HashRoot()
	if err != nil {
		return nil, err
	}
	return &deneb.ExecutionPayloadHeader{ParentHash: p.ParentHash, FeeRecipient: p.FeeRecipient, StateRoot: p.StateRoot,
		ReceiptsRoot: p.ReceiptsRoot, LogsBloom: p.LogsBloom, PrevRandao: p.PrevRandao, BlockNumber: p.BlockNumber,
		GasLimit: p.GasLimit, GasUsed: p.GasUsed, Timestamp: p.Timestamp, ExtraData: p.ExtraData, BaseFeePerGas: p.BaseFeePerGas,
		BlockHash: p.BlockHash, TransactionsRoot: txRoot, WithdrawalsRoot: wdRoot, BlobGasUsed: p.BlobGasUsed, ExcessBlobGas: p.ExcessBlobGas}, nil
}

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
	b := newBiddingBuilder(t, genesisTime)
	ck := &clock{now: genesisTime}
	node, err := beacon.New(ctx, beacon.Config{Validators: 16, GenesisTime: genesisTime, SlotTime: 2 * time.Second, Now: ck.Now, BuilderURL: b.url})
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	srv := httptest.NewServer(subscribedSignal(node.Handler(), up))
	defer srv.Close()
	defer cancel()
	rec := &recorder{}
	svc := dial(t, srv.URL, enforceJSON, rec)
	if err := svc.Events(ctx, &api.EventsOpts{Topics: []string{"payload_attributes"}, PayloadAttributesHandler: b.onAttributes}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("event stream not opened")
	}
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
	if err := b.follow(p1.Data.Electra.Block); err != nil {
		t.Fatalf("builder follows block 1: %v", err)
	}

	for slot := phase0.Slot(2); slot <= 3; slot++ {
		an.at(slot, 0.1)
		waitAttrs(t, b, slot)
		prop := an.proposerOf(t, slot)
		reveal := an.signRoot(t, prop, uintRoot(0), an.domain(t, domainRandao, 0))
		resp, err := svc.Proposal(ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal})
		if err != nil {
			t.Fatalf("proposal at %d: %v", slot, err)
		}
		pr := resp.Data
		b.mu.Lock()
		bidHeader := b.headers[slot]
		b.mu.Unlock()
		if !pr.Blinded || pr.ElectraBlinded == nil || bidHeader == nil || pr.ExecutionValue == nil || pr.ExecutionValue.Cmp(b.value.ToBig()) != 0 {
			t.Fatalf("slot %d: blinded %v, value %v, builder bid %v: want a blinded block worth the bid %s", slot, pr.Blinded, pr.ExecutionValue, bidHeader != nil, b.value)
		}
		got, _ := pr.ElectraBlinded.Body.ExecutionPayloadHeader.HashTreeRoot()
		want, _ := bidHeader.HashTreeRoot()
		if got != want {
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
		if fr != root || fb.Signature != signed.Signature || fb.Message.Body.ExecutionPayload.BlockHash != bidHeader.BlockHash {
			t.Fatalf("block %d fetched is not the blinded block published with the builder's payload", slot)
		}
		if err := b.follow(fb.Message); err != nil {
			t.Fatalf("builder follows block %d: %v", slot, err)
		}
	}
	b.mu.Lock()
	revealed := b.revealed
	b.mu.Unlock()
	if revealed != 2 {
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

// waitAttrs waits until the builder has the payload attributes of slot (from the node's event).
func waitAttrs(t *testing.T, b *biddingBuilder, slot phase0.Slot) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		_, ok := b.attrs[slot]
		b.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no payload_attributes event for slot %d", slot)
}
