package beacon

import (
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	bitfield "github.com/prysmaticlabs/go-bitfield"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// ErrNotFound answers a query for something the node does not have (404).
var ErrNotFound = errors.New("not found")

// AttestationData is produceAttestationData for slot: the head at the slot, the justified
// checkpoint as source and the slot's epoch checkpoint as target.
func (n *Node) AttestationData(slot phase0.Slot) (*phase0.AttestationData, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance()
	cur := n.currentSlot()
	if slot > cur {
		return nil, fmt.Errorf("slot %d is in the future (current slot %d)", slot, cur)
	}
	e := n.slotEpoch(slot)
	if e+1 < n.slotEpoch(cur) {
		return nil, fmt.Errorf("slot %d is before the previous epoch", slot)
	}
	head := n.blockAt(slot)
	source := n.st.ffg.CurrentJustified
	if e < n.slotEpoch(cur) {
		source = n.st.ffg.PreviousJustified
	}
	return &phase0.AttestationData{
		Slot:            slot,
		Index:           0,
		BeaconBlockRoot: head.root,
		Source:          &phase0.Checkpoint{Epoch: phase0.Epoch(source.Epoch), Root: phase0.Root(source.Root)},
		Target:          &phase0.Checkpoint{Epoch: e, Root: n.checkpointRoot(e, head)},
	}, nil
}

// AggregateAttestation is getAggregatedAttestationV2: the pool's aggregate of committee's votes on
// the data with root dataRoot at slot.
func (n *Node) AggregateAttestation(slot phase0.Slot, committee phase0.CommitteeIndex, dataRoot phase0.Root) (*electra.Attestation, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	agg := n.st.aggregates[aggKey{slot, committee, dataRoot}]
	if agg == nil {
		return nil, fmt.Errorf("%w: no attestation for data root %s of committee %d at slot %d", ErrNotFound, dataRoot, committee, slot)
	}
	cb := bitfield.NewBitvector64()
	cb.SetBitAt(uint64(committee), true)
	return &electra.Attestation{
		AggregationBits: append(bitfield.Bitlist(nil), agg.bits...),
		Data:            agg.data,
		Signature:       phase0.BLSSignature(agg.sig.Bytes()),
		CommitteeBits:   cb,
	}, nil
}

// committeeOf returns the single committee index an Electra aggregate names in its committee
// bits (gossip requires exactly one).
func committeeOf(a *electra.Attestation) (phase0.CommitteeIndex, error) {
	idx := a.CommitteeBits.BitIndices()
	if len(idx) != 1 {
		return 0, fmt.Errorf("committee bits must name exactly one committee, they name %d", len(idx))
	}
	return phase0.CommitteeIndex(idx[0]), nil
}

// attesters returns the committee members whose aggregation bits are set, and their positions.
func attesters(committee []uint64, bits bitfield.Bitlist) (members []uint64, positions []int, err error) {
	if bits.Len() != uint64(len(committee)) {
		return nil, nil, fmt.Errorf("aggregation bits have length %d, the committee has %d members", bits.Len(), len(committee))
	}
	for i, m := range committee {
		if bits.BitAt(uint64(i)) {
			members = append(members, m)
			positions = append(positions, i)
		}
	}
	if len(members) == 0 {
		return nil, nil, errors.New("aggregation bits are empty")
	}
	return members, positions, nil
}

// aggregatePubkey sums the attesters' keys for one FastAggregateVerify-style signature set.
func (n *Node) aggregatePubkey(members []uint64) (*bls.PublicKey, error) {
	pks := make([]*bls.PublicKey, len(members))
	for i, m := range members {
		pks[i] = n.gen.Validators[m].pk
	}
	return bls.AggregatePublicKeys(pks)
}

type pendingAggregate struct {
	sap       *electra.SignedAggregateAndProof
	committee phase0.CommitteeIndex
	size      int
	members   []uint64
	positions []int
	dataRoot  phase0.Root
}

// SubmitAggregateAndProofs checks and pools signed aggregates (publishAggregateAndProofsV2) by the
// gossip rules of beacon_aggregate_and_proof: the committee, the aggregator's selection proof and
// is_aggregator, its signature, and the aggregate's signature, all signatures in one batch.
func (n *Node) SubmitAggregateAndProofs(items []*electra.SignedAggregateAndProof) []indexedError {
	var failures []indexedError
	var pend []*pendingAggregate
	var pendIdx []int
	var setOwner []int // verifier set -> index into pend
	v := bls.NewVerifier(3 * len(items))

	n.mu.Lock()
	n.advance()
	for i, it := range items {
		p, sets, err := n.checkAggregate(it)
		if err != nil {
			failures = append(failures, indexedError{Index: i, Message: err.Error()})
			continue
		}
		for _, s := range sets {
			v.Add(s)
			setOwner = append(setOwner, len(pend))
		}
		pend = append(pend, p)
		pendIdx = append(pendIdx, i)
	}
	n.mu.Unlock()

	bad := map[int]bool{}
	if len(pend) > 0 {
		for _, j := range v.Invalid() {
			bad[setOwner[j]] = true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for j, p := range pend {
		if bad[j] {
			failures = append(failures, indexedError{Index: pendIdx[j], Message: "invalid signature: the selection proof, the aggregate-and-proof signature or the aggregate signature does not verify"})
			continue
		}
		if err := n.acceptAggregate(p); err != nil {
			failures = append(failures, indexedError{Index: pendIdx[j], Message: err.Error()})
		}
	}
	sortFailures(failures)
	for _, f := range failures {
		n.log.Info("aggregate refused", "index", f.Index, "reason", f.Message)
	}
	return failures
}

func (n *Node) checkAggregate(it *electra.SignedAggregateAndProof) (*pendingAggregate, []bls.SignatureSet, error) {
	if it == nil || it.Message == nil || it.Message.Aggregate == nil {
		return nil, nil, errors.New("aggregate and proof incomplete")
	}
	m := it.Message
	a := m.Aggregate
	if err := n.checkAttestationData(a.Data); err != nil {
		return nil, nil, err
	}
	ci, err := committeeOf(a)
	if err != nil {
		return nil, nil, err
	}
	committee, err := n.committee(a.Data.Slot, ci)
	if err != nil {
		return nil, nil, err
	}
	members, positions, err := attesters(committee, a.AggregationBits)
	if err != nil {
		return nil, nil, err
	}
	inCommittee := false
	for _, c := range committee {
		if phase0.ValidatorIndex(c) == m.AggregatorIndex {
			inCommittee = true
		}
	}
	if !inCommittee {
		return nil, nil, fmt.Errorf("aggregator %d is not a member of committee %d at slot %d", m.AggregatorIndex, ci, a.Data.Slot)
	}
	if !consensus.IsAggregator(uint64(len(committee)), m.SelectionProof, n.preset) {
		return nil, nil, fmt.Errorf("validator %d is not an aggregator of committee %d at slot %d (is_aggregator on its selection proof)", m.AggregatorIndex, ci, a.Data.Slot)
	}
	dataRoot, err := a.Data.HashTreeRoot()
	if err != nil {
		return nil, nil, err
	}
	for _, mem := range members {
		if _, err := n.checkSlashable(phase0.ValidatorIndex(mem), a.Data, dataRoot); err != nil {
			return nil, nil, err
		}
	}
	e := n.slotEpoch(a.Data.Slot)
	aggPK := n.gen.Validators[m.AggregatorIndex].pk
	selSig, err := bls.SignatureFromBytes(m.SelectionProof[:])
	if err != nil {
		return nil, nil, fmt.Errorf("selection proof does not decode: %w", err)
	}
	outerSig, err := bls.SignatureFromBytes(it.Signature[:])
	if err != nil {
		return nil, nil, fmt.Errorf("signature does not decode: %w", err)
	}
	aggSig, err := bls.SignatureFromBytes(a.Signature[:])
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate signature does not decode: %w", err)
	}
	outerRoot, err := consensus.SigningRootOf(m, n.domain(consensus.DomainAggregateAndProof, e))
	if err != nil {
		return nil, nil, err
	}
	selRoot := consensus.SigningRoot(consensus.SlotRoot(uint64(a.Data.Slot)), n.domain(consensus.DomainSelectionProof, e))
	attRoot := consensus.SigningRoot(dataRoot, n.domain(consensus.DomainBeaconAttester, a.Data.Target.Epoch))
	pk, err := n.aggregatePubkey(members)
	if err != nil {
		return nil, nil, err
	}
	sets := []bls.SignatureSet{
		{PublicKey: aggPK, Message: selRoot[:], Signature: selSig},
		{PublicKey: aggPK, Message: outerRoot[:], Signature: outerSig},
		{PublicKey: pk, Message: attRoot[:], Signature: aggSig},
	}
	return &pendingAggregate{sap: it, committee: ci, size: len(committee), members: members, positions: positions, dataRoot: dataRoot}, sets, nil
}

func (n *Node) acceptAggregate(p *pendingAggregate) error {
	a := p.sap.Message.Aggregate
	for _, mem := range p.members {
		if _, err := n.checkSlashable(phase0.ValidatorIndex(mem), a.Data, p.dataRoot); err != nil {
			return err
		}
	}
	for _, mem := range p.members {
		idx := phase0.ValidatorIndex(mem)
		if repeat, _ := n.checkSlashable(idx, a.Data, p.dataRoot); !repeat {
			n.recordVote(idx, a.Data, p.dataRoot)
		}
	}
	n.markLive(p.sap.Message.AggregatorIndex, n.slotEpoch(a.Data.Slot))
	sig, _ := bls.SignatureFromBytes(a.Signature[:])
	n.addToAggregate(aggKey{a.Data.Slot, p.committee, p.dataRoot}, a.Data, p.size, p.positions, sig)
	n.events.publish("attestation", a)
	return nil
}
