package beacon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	apiv1fulu "github.com/attestantio/go-eth2-client/api/v1/fulu"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	bitfield "github.com/prysmaticlabs/go-bitfield"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/pbs"
)

// maxAttestationsElectra is MAX_ATTESTATIONS_ELECTRA.
const maxAttestationsElectra = 8

// maxVoluntaryExits is MAX_VOLUNTARY_EXITS.
const maxVoluntaryExits = 16

// infinitySignature is the compressed G2 point at infinity: the signature of an empty sync
// aggregate (eth_fast_aggregate_verify accepts it for no participants).
var infinitySignature = phase0.BLSSignature{0xc0}

// proposal is a block the node produced for a slot, kept until the slot's block arrives: a blinded
// block must carry the header of the bid the node chose.
type proposal struct {
	slot     phase0.Slot
	blinded  bool
	bid      *deneb.ExecutionPayloadHeader
	bidValue *uint256.Int
	block    *electra.BeaconBlock // full proposal (local payload)
}

// Proposal is produceBlockV3's answer.
type Proposal struct {
	Version        spec.DataVersion
	Blinded        bool
	ExecutionValue *big.Int
	ConsensusValue *big.Int
	Block          *electra.BeaconBlock             // when !Blinded
	BlindedBlock   *apiv1electra.BlindedBeaconBlock // when Blinded
}

func emptySyncAggregate() *altair.SyncAggregate {
	return &altair.SyncAggregate{SyncCommitteeBits: bitfield.NewBitvector512(), SyncCommitteeSignature: infinitySignature}
}

func emptyRequests() *electra.ExecutionRequests {
	return &electra.ExecutionRequests{Deposits: []*electra.DepositRequest{}, Withdrawals: []*electra.WithdrawalRequest{}, Consolidations: []*electra.ConsolidationRequest{}}
}

// eth1Data is the devnet's constant eth1_data: every genesis deposit is processed and there is no
// deposit contract to follow.
func (n *Node) eth1Data() *phase0.ETH1Data {
	return &phase0.ETH1Data{DepositCount: uint64(len(n.gen.Validators)), BlockHash: make([]byte, 32)}
}

// genesisBlock is the devnet's genesis block: slot 0, an empty Electra body on the genesis
// execution block.
func (n *Node) genesisBlock() (*blockRec, error) {
	hash, number := n.exec.Head()
	payload := &deneb.ExecutionPayload{
		ParentHash: phase0.Hash32{}, BlockHash: hash, BlockNumber: number, BaseFeePerGas: uint256.NewInt(0),
		Transactions: []bellatrix.Transaction{}, Withdrawals: []*capella.Withdrawal{},
	}
	body := &electra.BeaconBlockBody{
		ETH1Data: n.eth1Data(), SyncAggregate: emptySyncAggregate(), ExecutionPayload: payload,
		ExecutionRequests: emptyRequests(),
	}
	bodyRoot, err := body.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("genesis body root: %w", err)
	}
	stateRoot := stateRootFor(phase0.Root(n.gen.GenesisValidatorsRoot), 0, 0, bodyRoot)
	header := &phase0.BeaconBlockHeader{Slot: 0, StateRoot: stateRoot, BodyRoot: bodyRoot}
	root, err := header.HashTreeRoot()
	if err != nil {
		return nil, err
	}
	blk := &electra.SignedBeaconBlock{Message: &electra.BeaconBlock{StateRoot: stateRoot, Body: body}}
	return &blockRec{root: root, stateRoot: stateRoot, version: spec.DataVersionElectra, header: header, signed: blk, mix: genesisMix}, nil
}

// attributes are the payload attributes of a block at slot on the current head.
func (n *Node) attributes(slot phase0.Slot) (execution.Attributes, error) {
	proposer, err := n.proposerAt(slot)
	if err != nil {
		return execution.Attributes{}, err
	}
	hash, number := n.exec.Head()
	return execution.Attributes{
		Slot:                  slot,
		ProposerIndex:         proposer,
		ParentBlockRoot:       n.st.head.root,
		ParentBlockHash:       hash,
		ParentBlockNumber:     number,
		Timestamp:             uint64(n.slotStart(slot).Unix()),
		PrevRandao:            n.st.head.mix,
		SuggestedFeeRecipient: n.feeRecipient(proposer),
		// get_expected_withdrawals: every devnet validator sits at exactly 32 ETH with 0x01
		// credentials and none has exited to withdrawability, so there is nothing to withdraw.
		Withdrawals: []*capella.Withdrawal{},
	}, nil
}

func (n *Node) feeRecipient(v phase0.ValidatorIndex) bellatrix.ExecutionAddress {
	if fr, ok := n.st.feeRecipients[v]; ok {
		return fr
	}
	return bellatrix.ExecutionAddress(WithdrawalAddress)
}

// announceAttributes publishes the payload_attributes event for slot once per head (relays and
// builders build on it), as a beacon node does when it prepares the slot's proposer.
func (n *Node) announceAttributes(slot phase0.Slot) {
	if slot <= n.st.head.slot || n.st.attrsSent[slot] == n.st.head.root {
		return
	}
	attrs, err := n.attributes(slot)
	if err != nil {
		return
	}
	ev, err := execution.AttributesEvent(attrs, n.forkAt(n.slotEpoch(slot)).String())
	if err != nil {
		n.log.Error("payload attributes event", "slot", slot, "error", err)
		return
	}
	n.st.attrsSent[slot] = n.st.head.root
	n.events.publish("payload_attributes", ev)
}

// checkRandao verifies a randao_reveal: the proposer's signature of the epoch (DOMAIN_RANDAO).
func (n *Node) randaoSet(proposer phase0.ValidatorIndex, slot phase0.Slot, reveal phase0.BLSSignature) (bls.SignatureSet, error) {
	sig, err := bls.SignatureFromBytes(reveal[:])
	if err != nil {
		return bls.SignatureSet{}, fmt.Errorf("randao reveal does not decode: %w", err)
	}
	e := n.slotEpoch(slot)
	root := consensus.SigningRoot(consensus.EpochRoot(uint64(e)), n.domain(consensus.DomainRandao, e))
	return bls.SignatureSet{PublicKey: n.gen.Validators[proposer].pk, Message: root[:], Signature: sig}, nil
}

// ProduceBlock is produceBlockV3: a block for slot on the head, with a builder's payload (blinded)
// when a builder is configured, the proposer registered with it, and its bid times boostFactor/100
// beats the local payload; otherwise a local payload. boostFactor 0 always builds locally.
func (n *Node) ProduceBlock(ctx context.Context, slot phase0.Slot, reveal phase0.BLSSignature, graffiti [32]byte, skipRandao bool, boostFactor uint64) (*Proposal, error) {
	n.mu.Lock()
	n.advance()
	cur := n.currentSlot()
	if n.cfg.Now().Before(n.cfg.GenesisTime) {
		n.mu.Unlock()
		return nil, errors.New("the chain has not started: genesis is in the future")
	}
	if slot != cur && slot != cur+1 {
		n.mu.Unlock()
		return nil, fmt.Errorf("slot %d is not the current slot (%d) or the next", slot, cur)
	}
	if slot <= n.st.head.slot {
		n.mu.Unlock()
		return nil, fmt.Errorf("slot %d is not after the head (slot %d)", slot, n.st.head.slot)
	}
	proposer, err := n.proposerAt(slot)
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	if skipRandao {
		if reveal != infinitySignature {
			n.mu.Unlock()
			return nil, errors.New("skip_randao_verification requires the point at infinity as randao_reveal")
		}
	} else {
		set, err := n.randaoSet(proposer, slot, reveal)
		if err != nil {
			n.mu.Unlock()
			return nil, err
		}
		if !bls.Verify(set.PublicKey, set.Message, set.Signature) {
			n.mu.Unlock()
			return nil, fmt.Errorf("invalid randao reveal: not a signature of epoch %d by the slot's proposer %d (DOMAIN_RANDAO)", n.slotEpoch(slot), proposer)
		}
	}
	attrs, err := n.attributes(slot)
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	body := &electra.BeaconBlockBody{
		RANDAOReveal:          reveal,
		ETH1Data:              n.eth1Data(),
		Graffiti:              graffiti,
		ProposerSlashings:     []*phase0.ProposerSlashing{},
		AttesterSlashings:     []*electra.AttesterSlashing{},
		Attestations:          n.packAttestations(slot),
		Deposits:              []*phase0.Deposit{},
		VoluntaryExits:        n.packExits(slot),
		SyncAggregate:         n.packSyncAggregate(slot),
		BLSToExecutionChanges: []*capella.SignedBLSToExecutionChange{},
		BlobKZGCommitments:    []deneb.KZGCommitment{},
		ExecutionRequests:     emptyRequests(),
	}
	parent := n.st.head
	pubkey := n.gen.Validators[proposer].Pubkey
	_, registered := n.st.registrations[pubkey]
	n.mu.Unlock()

	payload, _, err := n.exec.Build(attrs, nil, 0, uint256.NewInt(0))
	if err != nil {
		return nil, fmt.Errorf("build local payload: %w", err)
	}
	body.ExecutionPayload = payload
	localValue := uint256.NewInt(0)

	var bid *deneb.ExecutionPayloadHeader
	var bidValue *uint256.Int
	var bidBlobs []deneb.KZGCommitment
	var bidRequests *electra.ExecutionRequests
	if n.builder != nil && registered && boostFactor > 0 {
		b, err := n.builder.bid(ctx, slot, attrs.ParentBlockHash, pubkey)
		switch {
		case err != nil:
			n.log.Info("builder bid unavailable: proposing locally", "slot", slot, "error", err)
		case b == nil || b.IsEmpty():
			n.log.Info("builder has no bid: proposing locally", "slot", slot)
		default:
			if h, v, blobs, reqs, err := n.checkBid(b, attrs); err != nil {
				n.log.Warn("builder bid refused: proposing locally", "slot", slot, "error", err)
			} else {
				boosted := new(uint256.Int).Mul(v, uint256.NewInt(boostFactor))
				boosted.Div(boosted, uint256.NewInt(100))
				if boosted.Gt(localValue) {
					bid, bidValue, bidBlobs, bidRequests = h, v, blobs, reqs
				}
			}
		}
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st.head != parent {
		return nil, fmt.Errorf("the head changed while the block for slot %d was built: ask again", slot)
	}
	out := &Proposal{Version: n.forkAt(n.slotEpoch(slot)), ConsensusValue: big.NewInt(0)}
	if bid != nil {
		bb := &apiv1electra.BlindedBeaconBlockBody{
			RANDAOReveal: body.RANDAOReveal, ETH1Data: body.ETH1Data, Graffiti: body.Graffiti,
			ProposerSlashings: body.ProposerSlashings, AttesterSlashings: body.AttesterSlashings,
			Attestations: body.Attestations, Deposits: body.Deposits, VoluntaryExits: body.VoluntaryExits,
			SyncAggregate: body.SyncAggregate, ExecutionPayloadHeader: bid,
			BLSToExecutionChanges: body.BLSToExecutionChanges, BlobKZGCommitments: bidBlobs,
			ExecutionRequests: bidRequests,
		}
		bodyRoot, err := bb.HashTreeRoot()
		if err != nil {
			return nil, fmt.Errorf("blinded body root: %w", err)
		}
		blk := &apiv1electra.BlindedBeaconBlock{Slot: slot, ProposerIndex: proposer, ParentRoot: parent.root,
			StateRoot: stateRootFor(parent.stateRoot, slot, proposer, bodyRoot), Body: bb}
		n.st.proposals[slot] = &proposal{slot: slot, blinded: true, bid: bid, bidValue: bidValue}
		out.Blinded, out.BlindedBlock, out.ExecutionValue = true, blk, bidValue.ToBig()
		return out, nil
	}
	bodyRoot, err := body.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("body root: %w", err)
	}
	blk := &electra.BeaconBlock{Slot: slot, ProposerIndex: proposer, ParentRoot: parent.root,
		StateRoot: stateRootFor(parent.stateRoot, slot, proposer, bodyRoot), Body: body}
	n.st.proposals[slot] = &proposal{slot: slot, block: blk}
	out.Block, out.ExecutionValue = blk, localValue.ToBig()
	return out, nil
}

// checkBid checks a builder's bid as mev-boost does before a beacon node may use it: the
// builder-domain signature (and the builder's key when the URL pins one), and the header against
// the payload attributes of the slot.
func (n *Node) checkBid(b *builderspec.VersionedSignedBuilderBid, attrs execution.Attributes) (*deneb.ExecutionPayloadHeader, *uint256.Int, []deneb.KZGCommitment, *electra.ExecutionRequests, error) {
	var sb *builderelectra.SignedBuilderBid
	switch {
	case b.Version == spec.DataVersionElectra && b.Electra != nil:
		sb = b.Electra
	case b.Version == spec.DataVersionFulu && b.Fulu != nil:
		sb = b.Fulu
	default:
		return nil, nil, nil, nil, fmt.Errorf("bid of version %s: the devnet takes Electra and Fulu bids", b.Version)
	}
	if want := n.forkAt(n.slotEpoch(attrs.Slot)); b.Version != want {
		return nil, nil, nil, nil, fmt.Errorf("bid version %s, slot %d is in the %s fork", b.Version, attrs.Slot, want)
	}
	if sb.Message == nil || sb.Message.Header == nil || sb.Message.Value == nil {
		return nil, nil, nil, nil, errors.New("bid incomplete")
	}
	builderKey, err := b.Builder()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if n.builder.pubkey != nil && *n.builder.pubkey != builderKey {
		return nil, nil, nil, nil, fmt.Errorf("bid signed by %s, the builder URL names %s", builderKey, *n.builder.pubkey)
	}
	msgRoot, err := b.MessageHashTreeRoot()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sigBytes, err := b.Signature()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pk, err := bls.PublicKeyFromBytes(builderKey[:])
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("builder key: %w", err)
	}
	sig, err := bls.SignatureFromBytes(sigBytes[:])
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("bid signature: %w", err)
	}
	root := consensus.SigningRoot(msgRoot, builderDomain())
	if !bls.Verify(pk, root[:], sig) {
		return nil, nil, nil, nil, errors.New("invalid bid signature (DOMAIN_APPLICATION_BUILDER)")
	}
	value, err := b.Value()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if value.IsZero() {
		return nil, nil, nil, nil, errors.New("bid value is zero")
	}
	h, blobs, reqs := sb.Message.Header, sb.Message.BlobKZGCommitments, sb.Message.ExecutionRequests
	if reqs == nil {
		reqs = emptyRequests()
	}
	if h.ParentHash != attrs.ParentBlockHash {
		return nil, nil, nil, nil, fmt.Errorf("bid parent hash %s is not the head's execution block %s", h.ParentHash, attrs.ParentBlockHash)
	}
	if h.Timestamp != attrs.Timestamp {
		return nil, nil, nil, nil, fmt.Errorf("bid timestamp %d is not the slot's %d", h.Timestamp, attrs.Timestamp)
	}
	if h.PrevRandao != attrs.PrevRandao {
		return nil, nil, nil, nil, errors.New("bid prev_randao is not the slot's RANDAO mix")
	}
	// The header's withdrawals_root is hash_tree_root of the SSZ list (deneb ExecutionPayloadHeader),
	// not the execution block header's trie root.
	if wr, err := pbs.WithdrawalsRoot(attrs.Withdrawals); err != nil || h.WithdrawalsRoot != wr {
		return nil, nil, nil, nil, errors.New("bid withdrawals root is not the slot's expected withdrawals")
	}
	return h, value, blobs, reqs, nil
}

// packAttestations picks up to MAX_ATTESTATIONS_ELECTRA on-chain aggregates from the pool for a
// block at slot: votes of the previous 32 slots (current or previous epoch), not yet included,
// merging the committees of one attestation data into one Electra attestation.
func (n *Node) packAttestations(slot phase0.Slot) []*electra.Attestation {
	type group struct {
		data  *phase0.AttestationData
		comms map[phase0.CommitteeIndex]*aggregate
		votes uint64
	}
	groups := map[phase0.Root]*group{}
	blockEpoch := n.slotEpoch(slot)
	for k, agg := range n.st.aggregates {
		if agg.included || k.slot+1 > slot || uint64(k.slot)+attestationPropagationSlotRange < uint64(slot) || n.slotEpoch(k.slot)+1 < blockEpoch {
			continue
		}
		// Only votes consistent with this chain can be included.
		if b, ok := n.st.blocks[agg.data.BeaconBlockRoot]; !ok || n.checkpointRoot(agg.data.Target.Epoch, b) != agg.data.Target.Root {
			continue
		}
		g := groups[k.dataRoot]
		if g == nil {
			g = &group{data: agg.data, comms: map[phase0.CommitteeIndex]*aggregate{}}
			groups[k.dataRoot] = g
		}
		g.comms[k.committee] = agg
		g.votes += agg.bits.Count()
	}
	var out []*electra.Attestation
	for len(out) < maxAttestationsElectra && len(groups) > 0 {
		var best phase0.Root
		var bg *group
		for r, g := range groups {
			if bg == nil || g.votes > bg.votes || (g.votes == bg.votes && string(r[:]) < string(best[:])) {
				best, bg = r, g
			}
		}
		delete(groups, best)
		if a := n.mergeCommittees(bg.data, bg.comms); a != nil {
			out = append(out, a)
		}
	}
	if out == nil {
		out = []*electra.Attestation{}
	}
	return out
}

// mergeCommittees builds one Electra attestation from per-committee aggregates of one data:
// aggregation bits are the committees' bits concatenated in committee order.
func (n *Node) mergeCommittees(d *phase0.AttestationData, comms map[phase0.CommitteeIndex]*aggregate) *electra.Attestation {
	cb := bitfield.NewBitvector64()
	var total uint64
	var order []phase0.CommitteeIndex
	for c := phase0.CommitteeIndex(0); c < 64; c++ {
		if a, ok := comms[c]; ok {
			order = append(order, c)
			total += a.bits.Len()
			cb.SetBitAt(uint64(c), true)
		}
	}
	bits := bitfield.NewBitlist(total)
	var sigs []*bls.Signature
	off := uint64(0)
	for _, c := range order {
		a := comms[c]
		for i := uint64(0); i < a.bits.Len(); i++ {
			if a.bits.BitAt(i) {
				bits.SetBitAt(off+i, true)
			}
		}
		off += a.bits.Len()
		sigs = append(sigs, a.sig)
	}
	sig, err := bls.Aggregate(sigs)
	if err != nil {
		return nil
	}
	return &electra.Attestation{AggregationBits: bits, Data: d, Signature: phase0.BLSSignature(sig.Bytes()), CommitteeBits: cb}
}

// packExits includes pooled voluntary exits that are still valid.
func (n *Node) packExits(slot phase0.Slot) []*phase0.SignedVoluntaryExit {
	out := []*phase0.SignedVoluntaryExit{}
	for idx, ex := range n.st.exitPool {
		if len(out) == maxVoluntaryExits {
			break
		}
		if _, exited := n.st.exits[idx]; exited {
			delete(n.st.exitPool, idx)
			continue
		}
		if ex.Message.Epoch <= n.slotEpoch(slot) {
			out = append(out, ex)
		}
	}
	return out
}

// SubmitBlock checks and imports a signed full block (publishBlockV2).
func (n *Node) SubmitBlock(ctx context.Context, version spec.DataVersion, signed *electra.SignedBeaconBlock) error {
	if signed == nil || signed.Message == nil || signed.Message.Body == nil || signed.Message.Body.ExecutionPayload == nil {
		return errors.New("block incomplete: message, body and execution payload are required")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.checkAndImport(version, signed, false); err != nil {
		n.metrics.refused.WithLabelValues("blocks").Inc()
		n.log.Info("block refused", "slot", signed.Message.Slot, "reason", err)
		return err
	}
	return nil
}

// SubmitBlindedBlock checks a signed blinded block against the bid the node chose for its slot,
// has the builder reveal the payload (refusing a payload that does not match the signed header),
// and imports the full block (publishBlindedBlockV2).
func (n *Node) SubmitBlindedBlock(ctx context.Context, version spec.DataVersion, signed *apiv1electra.SignedBlindedBeaconBlock) error {
	if signed == nil || signed.Message == nil || signed.Message.Body == nil || signed.Message.Body.ExecutionPayloadHeader == nil {
		return errors.New("blinded block incomplete: message, body and execution payload header are required")
	}
	if n.builder == nil {
		return errors.New("the node has no builder configured: blinded blocks cannot be unblinded")
	}
	m := signed.Message
	n.mu.Lock()
	n.advance()
	p := n.st.proposals[m.Slot]
	if p == nil || !p.blinded {
		n.mu.Unlock()
		return fmt.Errorf("no blinded proposal was produced for slot %d", m.Slot)
	}
	hr, err := m.Body.ExecutionPayloadHeader.HashTreeRoot()
	if err != nil {
		n.mu.Unlock()
		return err
	}
	want, _ := p.bid.HashTreeRoot()
	if hr != want {
		n.mu.Unlock()
		return errors.New("the execution payload header is not the header of the bid the node chose for this slot")
	}
	if err := n.checkHeader(version, m.Slot, m.ProposerIndex, m.ParentRoot); err != nil {
		n.mu.Unlock()
		return err
	}
	// The builder releases the payload only to a signed header: check the signature first so that
	// a forged blinded block never reaches it (the blinded and the full block share their root).
	blockRoot, err := m.HashTreeRoot()
	if err != nil {
		n.mu.Unlock()
		return err
	}
	sig, err := bls.SignatureFromBytes(signed.Signature[:])
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("block signature does not decode: %w", err)
	}
	propRoot := consensus.SigningRoot(blockRoot, n.domain(consensus.DomainBeaconProposer, n.slotEpoch(m.Slot)))
	if !bls.Verify(n.gen.Validators[m.ProposerIndex].pk, propRoot[:], sig) {
		n.mu.Unlock()
		return errors.New("invalid signature: proposer signature (DOMAIN_BEACON_PROPOSER)")
	}
	n.mu.Unlock()

	vp := &consensusapi.VersionedSignedBlindedProposal{Version: version}
	if version == spec.DataVersionFulu {
		vp.Fulu = signed
	} else {
		vp.Electra = signed
	}
	full, err := n.builder.unblind(ctx, vp)
	if err != nil {
		return fmt.Errorf("builder did not reveal the payload: %w", err)
	}
	var sb *electra.SignedBeaconBlock
	switch {
	case full != nil && full.Electra != nil:
		sb = full.Electra.SignedBlock
	case full != nil && full.Fulu != nil:
		sb = full.Fulu.SignedBlock
	default:
		return errors.New("builder returned no block")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.checkAndImport(version, sb, true); err != nil {
		n.metrics.refused.WithLabelValues("blinded_blocks").Inc()
		return err
	}
	return nil
}

// checkHeader checks what a block and a blinded block share: fork, slot window, proposer, parent.
func (n *Node) checkHeader(version spec.DataVersion, slot phase0.Slot, proposer phase0.ValidatorIndex, parent phase0.Root) error {
	e := n.slotEpoch(slot)
	if want := n.forkAt(e); version != want {
		return fmt.Errorf("wrong fork: Eth-Consensus-Version %s, slot %d is in the %s fork", version, slot, want)
	}
	cur := n.currentSlot()
	if slot > cur {
		return fmt.Errorf("block slot %d is in the future (current slot %d)", slot, cur)
	}
	if slot+1 < cur || n.slotEpoch(slot) != n.slotEpoch(cur) {
		return fmt.Errorf("block slot %d is too late (current slot %d): the devnet takes the current slot's block, or the previous slot's within its epoch", slot, cur)
	}
	if slot <= n.st.head.slot {
		return fmt.Errorf("block slot %d is not after the head (slot %d)", slot, n.st.head.slot)
	}
	want, err := n.proposerAt(slot)
	if err != nil {
		return err
	}
	if proposer != want {
		return fmt.Errorf("wrong proposer: block names validator %d, the proposer of slot %d is %d", proposer, slot, want)
	}
	if parent != n.st.head.root {
		return fmt.Errorf("parent %s is not the head %s: the devnet has no fork choice, blocks build on the head", parent, n.st.head.root)
	}
	return nil
}

// checkAndImport runs every check of a full block and, when all pass, makes it the head.
func (n *Node) checkAndImport(version spec.DataVersion, signed *electra.SignedBeaconBlock, viaBuilder bool) error {
	n.advance()
	m := signed.Message
	b := m.Body
	if err := n.checkHeader(version, m.Slot, m.ProposerIndex, m.ParentRoot); err != nil {
		return err
	}
	bodyRoot, err := b.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("body does not hash: %w", err)
	}
	if want := stateRootFor(n.st.head.stateRoot, m.Slot, m.ProposerIndex, bodyRoot); m.StateRoot != want {
		return fmt.Errorf("state root %s is not the state root after this block (%s)", m.StateRoot, want)
	}
	if len(b.ProposerSlashings)+len(b.AttesterSlashings) > 0 {
		return errors.New("the devnet does not process slashings in blocks: the body must carry none")
	}
	if len(b.Deposits) > 0 || len(b.BLSToExecutionChanges) > 0 {
		return errors.New("the devnet has no deposits or BLS-to-execution changes to process: the body must carry none")
	}
	if b.ETH1Data == nil || b.ETH1Data.DepositCount != uint64(len(n.gen.Validators)) {
		return errors.New("eth1_data must be the devnet's genesis eth1 data")
	}
	v := bls.NewVerifier(4 + len(b.Attestations))
	br, err := m.HashTreeRoot()
	if err != nil {
		return err
	}
	blockRoot := phase0.Root(br)
	sig, err := bls.SignatureFromBytes(signed.Signature[:])
	if err != nil {
		return fmt.Errorf("block signature does not decode: %w", err)
	}
	propRoot := consensus.SigningRoot(blockRoot, n.domain(consensus.DomainBeaconProposer, n.slotEpoch(m.Slot)))
	v.Add(bls.SignatureSet{PublicKey: n.gen.Validators[m.ProposerIndex].pk, Message: propRoot[:], Signature: sig})
	rs, err := n.randaoSet(m.ProposerIndex, m.Slot, b.RANDAOReveal)
	if err != nil {
		return err
	}
	v.Add(rs)
	what := []string{"proposer signature (DOMAIN_BEACON_PROPOSER)", "randao reveal (DOMAIN_RANDAO)"}
	type onchain struct {
		data     *phase0.AttestationData
		dataRoot phase0.Root
		members  []uint64
	}
	var included []onchain
	for i, a := range b.Attestations {
		set, members, dataRoot, err := n.checkOnchainAttestation(m.Slot, a)
		if err != nil {
			return fmt.Errorf("attestation %d: %w", i, err)
		}
		v.Add(set)
		what = append(what, fmt.Sprintf("attestation %d aggregate signature", i))
		included = append(included, onchain{a.Data, dataRoot, members})
	}
	if set, ok, err := n.syncAggregateSet(m.Slot, b.SyncAggregate); err != nil {
		return err
	} else if ok {
		v.Add(set)
		what = append(what, "sync aggregate signature (DOMAIN_SYNC_COMMITTEE)")
	}
	for i, ex := range b.VoluntaryExits {
		set, err := n.checkExit(ex, m.Slot)
		if err != nil {
			return fmt.Errorf("voluntary exit %d: %w", i, err)
		}
		v.Add(set)
		what = append(what, fmt.Sprintf("voluntary exit %d signature", i))
	}
	if bad := v.Invalid(); bad != nil {
		return fmt.Errorf("invalid signature: %s", what[bad[0]])
	}
	attrs, err := n.attributes(m.Slot)
	if err != nil {
		return err
	}
	if err := n.exec.Check(attrs, b.ExecutionPayload, b.ExecutionRequests); err != nil {
		return fmt.Errorf("execution payload: %w", err)
	}
	if err := n.exec.Import(b.ExecutionPayload); err != nil {
		return fmt.Errorf("execution payload import: %w", err)
	}
	// Import.
	reveal := sha256.Sum256(b.RANDAOReveal[:])
	mix := n.st.head.mix
	for i := range mix {
		mix[i] ^= reveal[i]
	}
	rec := &blockRec{root: blockRoot, slot: m.Slot, parent: m.ParentRoot, stateRoot: m.StateRoot, proposer: m.ProposerIndex,
		version: version, signed: signed, signature: signed.Signature, mix: mix,
		header: &phase0.BeaconBlockHeader{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot, BodyRoot: bodyRoot}}
	prevHead := n.st.head
	n.st.blocks[blockRoot] = rec
	n.st.head = rec
	delete(n.st.proposals, m.Slot)
	n.markLive(m.ProposerIndex, n.slotEpoch(m.Slot))
	for _, in := range included {
		for _, mem := range in.members {
			idx := phase0.ValidatorIndex(mem)
			repeat, err := n.checkSlashable(idx, in.data, in.dataRoot)
			if err == nil && !repeat {
				n.recordVote(idx, in.data, in.dataRoot)
			}
		}
		for k, agg := range n.st.aggregates {
			if k.dataRoot == in.dataRoot {
				agg.included = true
			}
		}
	}
	for _, ex := range b.VoluntaryExits {
		// initiate_validator_exit: compute_activation_exit_epoch (churn is not limited: the devnet
		// exits a handful of validators at most).
		n.st.exits[ex.Message.ValidatorIndex] = n.slotEpoch(m.Slot) + 1 + phase0.Epoch(n.preset.MaxSeedLookahead)
		delete(n.st.exitPool, ex.Message.ValidatorIndex)
	}
	path := "local"
	if viaBuilder {
		path = "builder"
	}
	n.metrics.blocks.WithLabelValues(path).Inc()
	n.log.Info("block imported", "slot", m.Slot, "root", blockRoot.String(), "proposer", m.ProposerIndex, "path", path,
		"attestations", len(b.Attestations), "exec_block", b.ExecutionPayload.BlockNumber)
	epochTransition := n.slotEpoch(prevHead.slot) != n.slotEpoch(m.Slot)
	// Beacon API head event: the block roots at the slot before the previous and the current
	// epoch's first slots (the attester and proposer duties' dependent roots).
	prevDep := n.st.genesis.root
	if e := n.slotEpoch(m.Slot); e > 0 {
		prevDep = n.dependentRoot(e - 1)
	}
	n.events.publish("block", blockEvent{Slot: fmt.Sprint(m.Slot), Block: blockRoot.String()})
	n.events.publish("head", headEvent{
		Slot: fmt.Sprint(m.Slot), Block: blockRoot.String(), State: m.StateRoot.String(), EpochTransition: epochTransition,
		PreviousDutyDependentRoot: prevDep.String(),
		CurrentDutyDependentRoot:  n.dependentRoot(n.slotEpoch(m.Slot)).String(),
	})
	n.announceAttributes(m.Slot + 1)
	return nil
}

// checkOnchainAttestation checks an attestation in a block at slot (process_attestation, Electra):
// inclusion window, committees named by committee bits, bits length, and returns its signature set.
func (n *Node) checkOnchainAttestation(slot phase0.Slot, a *electra.Attestation) (bls.SignatureSet, []uint64, phase0.Root, error) {
	if a == nil || a.Data == nil || a.Data.Target == nil || a.Data.Source == nil {
		return bls.SignatureSet{}, nil, phase0.Root{}, errors.New("incomplete")
	}
	d := a.Data
	if d.Slot+phase0.Slot(n.preset.MinAttestationInclusionDelay) > slot {
		return bls.SignatureSet{}, nil, phase0.Root{}, fmt.Errorf("slot %d is too recent for a block at slot %d", d.Slot, slot)
	}
	if n.slotEpoch(d.Slot)+1 < n.slotEpoch(slot) || d.Target.Epoch != n.slotEpoch(d.Slot) {
		return bls.SignatureSet{}, nil, phase0.Root{}, fmt.Errorf("target epoch %d is not the current or previous epoch of the block", d.Target.Epoch)
	}
	if d.Index != 0 {
		return bls.SignatureSet{}, nil, phase0.Root{}, errors.New("data index must be 0 from Electra on")
	}
	var members []uint64
	var off uint64
	for _, c := range a.CommitteeBits.BitIndices() {
		committee, err := n.committee(d.Slot, phase0.CommitteeIndex(c))
		if err != nil {
			return bls.SignatureSet{}, nil, phase0.Root{}, err
		}
		any := false
		for i, mem := range committee {
			if off+uint64(i) < a.AggregationBits.Len() && a.AggregationBits.BitAt(off+uint64(i)) {
				members = append(members, mem)
				any = true
			}
		}
		if !any {
			return bls.SignatureSet{}, nil, phase0.Root{}, fmt.Errorf("committee %d has no attester", c)
		}
		off += uint64(len(committee))
	}
	if off == 0 || a.AggregationBits.Len() != off {
		return bls.SignatureSet{}, nil, phase0.Root{}, fmt.Errorf("aggregation bits length %d is not the committees' total %d", a.AggregationBits.Len(), off)
	}
	dataRoot, err := d.HashTreeRoot()
	if err != nil {
		return bls.SignatureSet{}, nil, phase0.Root{}, err
	}
	pk, err := n.aggregatePubkey(members)
	if err != nil {
		return bls.SignatureSet{}, nil, phase0.Root{}, err
	}
	sig, err := bls.SignatureFromBytes(a.Signature[:])
	if err != nil {
		return bls.SignatureSet{}, nil, phase0.Root{}, fmt.Errorf("signature does not decode: %w", err)
	}
	root := consensus.SigningRoot(dataRoot, n.domain(consensus.DomainBeaconAttester, d.Target.Epoch))
	return bls.SignatureSet{PublicKey: pk, Message: root[:], Signature: sig}, members, dataRoot, nil
}

// versionedBlock wraps a stored block for the API.
func (n *Node) blockByID(id string) (*blockRec, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.resolveBlock(id)
}

var _ = apiv1.BeaconBlockHeader{}
var _ = apiv1fulu.BlockContents{}
