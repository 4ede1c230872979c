package beacon

import (
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	bitfield "github.com/prysmaticlabs/go-bitfield"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// syncKey identifies the sync-committee votes of one slot on one block root.
type syncKey struct {
	slot phase0.Slot
	root phase0.Root
}

// syncAgg collects sync-committee messages (per committee position) and the best contribution
// per subcommittee for one syncKey.
type syncAgg struct {
	bySlotPos     map[int]*bls.Signature
	contributions map[uint64]*altair.SyncCommitteeContribution
}

func (n *Node) subcommitteeSize() int {
	return int(n.preset.SyncCommitteeSize / n.preset.SyncCommitteeSubnetCount)
}

// syncCommitteeForSlot is the committee whose members sign at slot: the committee of the epoch of
// slot+1 (get_sync_subcommittee_pubkeys: at a period's last slot the next committee signs).
func (n *Node) syncCommitteeForSlot(slot phase0.Slot) ([]phase0.ValidatorIndex, error) {
	return n.syncCommittee(n.syncPeriod(n.slotEpoch(slot + 1)))
}

// SyncDuties is getSyncCommitteeDuties: each requested validator's positions in the sync
// committee of epoch's period (only members are listed).
func (n *Node) SyncDuties(e phase0.Epoch, indices []phase0.ValidatorIndex) ([]syncDuty, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance()
	committee, err := n.syncCommittee(n.syncPeriod(e))
	if err != nil {
		return nil, err
	}
	out := []syncDuty{}
	for _, idx := range indices {
		if int(idx) >= len(n.gen.Validators) {
			return nil, fmt.Errorf("unknown validator index %d", idx)
		}
		var pos []string
		for i, m := range committee {
			if m == idx {
				pos = append(pos, fmt.Sprint(i))
			}
		}
		if len(pos) > 0 {
			out = append(out, syncDuty{Pubkey: n.gen.Validators[idx].Pubkey.String(), ValidatorIndex: fmt.Sprint(idx), Positions: pos})
		}
	}
	return out, nil
}

type syncDuty struct {
	Pubkey         string   `json:"pubkey"`
	ValidatorIndex string   `json:"validator_index"`
	Positions      []string `json:"validator_sync_committee_indices"`
}

// SubmitSyncMessages checks and pools sync-committee messages (submitPoolSyncCommitteeSignatures):
// the slot, membership, the block root, and all signatures in one batch.
func (n *Node) SubmitSyncMessages(msgs []*altair.SyncCommitteeMessage) []indexedError {
	var failures []indexedError
	type pend struct {
		i         int
		m         *altair.SyncCommitteeMessage
		positions []int
		sig       *bls.Signature
	}
	var ps []pend
	v := bls.NewVerifier(len(msgs))
	n.mu.Lock()
	n.advance()
	cur := n.currentSlot()
	for i, m := range msgs {
		err := func() error {
			if m == nil {
				return errors.New("empty message")
			}
			// sync_committee_{subnet_id}: the message is for the current slot (one slot of
			// clock disparity either way).
			if m.Slot > cur+1 || m.Slot+1 < cur {
				return fmt.Errorf("message slot %d is not the current slot %d", m.Slot, cur)
			}
			if int(m.ValidatorIndex) >= len(n.gen.Validators) {
				return fmt.Errorf("unknown validator index %d", m.ValidatorIndex)
			}
			if _, ok := n.st.blocks[m.BeaconBlockRoot]; !ok {
				return fmt.Errorf("unknown beacon block root %s", m.BeaconBlockRoot)
			}
			committee, err := n.syncCommitteeForSlot(m.Slot)
			if err != nil {
				return err
			}
			var positions []int
			for p, c := range committee {
				if c == m.ValidatorIndex {
					positions = append(positions, p)
				}
			}
			if len(positions) == 0 {
				return fmt.Errorf("validator %d is not in the sync committee of slot %d", m.ValidatorIndex, m.Slot)
			}
			sig, err := bls.SignatureFromBytes(m.Signature[:])
			if err != nil {
				return fmt.Errorf("signature does not decode: %w", err)
			}
			root := consensus.SigningRoot(m.BeaconBlockRoot, n.domain(consensus.DomainSyncCommittee, n.slotEpoch(m.Slot)))
			v.Add(bls.SignatureSet{PublicKey: n.gen.Validators[m.ValidatorIndex].pk, Message: root[:], Signature: sig})
			ps = append(ps, pend{i, m, positions, sig})
			return nil
		}()
		if err != nil {
			failures = append(failures, indexedError{Index: i, Message: err.Error()})
		}
	}
	n.mu.Unlock()
	bad := map[int]bool{}
	if len(ps) > 0 {
		for _, j := range v.Invalid() {
			bad[j] = true
			failures = append(failures, indexedError{Index: ps[j].i, Message: "invalid signature: not a signature of the block root by the validator (DOMAIN_SYNC_COMMITTEE)"})
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for j, p := range ps {
		if bad[j] {
			continue
		}
		sa := n.syncAggFor(syncKey{p.m.Slot, p.m.BeaconBlockRoot})
		for _, pos := range p.positions {
			sa.bySlotPos[pos] = p.sig
		}
		n.markLive(p.m.ValidatorIndex, n.slotEpoch(p.m.Slot))
	}
	sortFailures(failures)
	return failures
}

func (n *Node) syncAggFor(k syncKey) *syncAgg {
	sa := n.st.syncMsgs[k]
	if sa == nil {
		sa = &syncAgg{bySlotPos: map[int]*bls.Signature{}, contributions: map[uint64]*altair.SyncCommitteeContribution{}}
		n.st.syncMsgs[k] = sa
	}
	return sa
}

// fromMessages aggregates the pooled messages of one subcommittee.
func (n *Node) fromMessages(sa *syncAgg, sub uint64) (bitfield.Bitvector128, *bls.Signature) {
	size := n.subcommitteeSize()
	bits := bitfield.NewBitvector128()
	var sigs []*bls.Signature
	for i := 0; i < size; i++ {
		if s, ok := sa.bySlotPos[int(sub)*size+i]; ok {
			bits.SetBitAt(uint64(i), true)
			sigs = append(sigs, s)
		}
	}
	if len(sigs) == 0 {
		return bits, nil
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		return bits, nil
	}
	return bits, agg
}

// SyncContribution is produceSyncCommitteeContribution.
func (n *Node) SyncContribution(slot phase0.Slot, sub uint64, root phase0.Root) (*altair.SyncCommitteeContribution, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if sub >= n.preset.SyncCommitteeSubnetCount {
		return nil, fmt.Errorf("subcommittee index %d out of range (%d subnets)", sub, n.preset.SyncCommitteeSubnetCount)
	}
	sa := n.st.syncMsgs[syncKey{slot, root}]
	if sa == nil {
		return nil, fmt.Errorf("%w: no sync committee messages for slot %d and root %s", ErrNotFound, slot, root)
	}
	bits, sig := n.fromMessages(sa, sub)
	if sig == nil {
		return nil, fmt.Errorf("%w: no sync committee messages of subcommittee %d for slot %d", ErrNotFound, sub, slot)
	}
	return &altair.SyncCommitteeContribution{Slot: slot, BeaconBlockRoot: root, SubcommitteeIndex: sub, AggregationBits: bits, Signature: phase0.BLSSignature(sig.Bytes())}, nil
}

// SubmitContributions checks and pools signed contributions (publishContributionAndProofs) by the
// gossip rules of sync_committee_contribution_and_proof.
func (n *Node) SubmitContributions(items []*altair.SignedContributionAndProof) []indexedError {
	var failures []indexedError
	type pend struct {
		i int
		c *altair.SyncCommitteeContribution
	}
	var ps []pend
	var owner []int
	v := bls.NewVerifier(3 * len(items))
	n.mu.Lock()
	n.advance()
	cur := n.currentSlot()
	for i, it := range items {
		sets, err := func() ([]bls.SignatureSet, error) {
			if it == nil || it.Message == nil || it.Message.Contribution == nil {
				return nil, errors.New("contribution and proof incomplete")
			}
			m, c := it.Message, it.Message.Contribution
			if c.Slot > cur+1 || c.Slot+1 < cur {
				return nil, fmt.Errorf("contribution slot %d is not the current slot %d", c.Slot, cur)
			}
			if c.SubcommitteeIndex >= n.preset.SyncCommitteeSubnetCount {
				return nil, fmt.Errorf("subcommittee index %d out of range", c.SubcommitteeIndex)
			}
			if _, ok := n.st.blocks[c.BeaconBlockRoot]; !ok {
				return nil, fmt.Errorf("unknown beacon block root %s", c.BeaconBlockRoot)
			}
			if int(m.AggregatorIndex) >= len(n.gen.Validators) {
				return nil, fmt.Errorf("unknown aggregator index %d", m.AggregatorIndex)
			}
			committee, err := n.syncCommitteeForSlot(c.Slot)
			if err != nil {
				return nil, err
			}
			size := n.subcommitteeSize()
			sub := committee[int(c.SubcommitteeIndex)*size : int(c.SubcommitteeIndex+1)*size]
			var parts []*bls.PublicKey
			member := false
			for i, vi := range sub {
				if vi == m.AggregatorIndex {
					member = true
				}
				if c.AggregationBits.BitAt(uint64(i)) {
					parts = append(parts, n.gen.Validators[vi].pk)
				}
			}
			if !member {
				return nil, fmt.Errorf("aggregator %d is not in subcommittee %d of slot %d", m.AggregatorIndex, c.SubcommitteeIndex, c.Slot)
			}
			if len(parts) == 0 {
				return nil, errors.New("aggregation bits are empty")
			}
			if !consensus.IsSyncCommitteeAggregator(m.SelectionProof, n.preset) {
				return nil, fmt.Errorf("validator %d is not a sync committee aggregator (is_sync_committee_aggregator on its selection proof)", m.AggregatorIndex)
			}
			e := n.slotEpoch(c.Slot)
			selRoot, err := consensus.SigningRootOf(&altair.SyncAggregatorSelectionData{Slot: c.Slot, SubcommitteeIndex: c.SubcommitteeIndex}, n.domain(consensus.DomainSyncCommitteeSelectionProof, e))
			if err != nil {
				return nil, err
			}
			outerRoot, err := consensus.SigningRootOf(m, n.domain(consensus.DomainContributionAndProof, e))
			if err != nil {
				return nil, err
			}
			msgRoot := consensus.SigningRoot(c.BeaconBlockRoot, n.domain(consensus.DomainSyncCommittee, e))
			aggPK, err := bls.AggregatePublicKeys(parts)
			if err != nil {
				return nil, err
			}
			sel, err1 := bls.SignatureFromBytes(m.SelectionProof[:])
			outer, err2 := bls.SignatureFromBytes(it.Signature[:])
			csig, err3 := bls.SignatureFromBytes(c.Signature[:])
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, fmt.Errorf("signature does not decode: %w", err)
			}
			me := n.gen.Validators[m.AggregatorIndex].pk
			return []bls.SignatureSet{
				{PublicKey: me, Message: selRoot[:], Signature: sel},
				{PublicKey: me, Message: outerRoot[:], Signature: outer},
				{PublicKey: aggPK, Message: msgRoot[:], Signature: csig},
			}, nil
		}()
		if err != nil {
			failures = append(failures, indexedError{Index: i, Message: err.Error()})
			continue
		}
		for _, s := range sets {
			v.Add(s)
			owner = append(owner, len(ps))
		}
		ps = append(ps, pend{i, it.Message.Contribution})
	}
	n.mu.Unlock()
	bad := map[int]bool{}
	if len(ps) > 0 {
		for _, j := range v.Invalid() {
			bad[owner[j]] = true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for j, p := range ps {
		if bad[j] {
			failures = append(failures, indexedError{Index: p.i, Message: "invalid signature: the selection proof, the contribution-and-proof signature or the contribution signature does not verify"})
			continue
		}
		sa := n.syncAggFor(syncKey{p.c.Slot, p.c.BeaconBlockRoot})
		if old := sa.contributions[p.c.SubcommitteeIndex]; old == nil || p.c.AggregationBits.Count() > old.AggregationBits.Count() {
			sa.contributions[p.c.SubcommitteeIndex] = p.c
		}
		n.events.publish("contribution_and_proof", items[p.i])
	}
	sortFailures(failures)
	return failures
}

// packSyncAggregate builds the sync aggregate of a block at slot: the votes of slot-1 on the block
// root of slot-1, per subcommittee the larger of the pooled messages and the best contribution.
func (n *Node) packSyncAggregate(slot phase0.Slot) *altair.SyncAggregate {
	out := emptySyncAggregate()
	if slot == 0 {
		return out
	}
	prev := slot - 1
	sa := n.st.syncMsgs[syncKey{prev, n.blockAt(prev).root}]
	if sa == nil {
		return out
	}
	size := n.subcommitteeSize()
	var sigs []*bls.Signature
	for sub := uint64(0); sub < n.preset.SyncCommitteeSubnetCount; sub++ {
		bits, sig := n.fromMessages(sa, sub)
		if c := sa.contributions[sub]; c != nil && c.AggregationBits.Count() > bits.Count() {
			s, err := bls.SignatureFromBytes(c.Signature[:])
			if err != nil {
				continue
			}
			bits, sig = c.AggregationBits, s
		}
		if sig == nil {
			continue
		}
		for i := 0; i < size; i++ {
			if bits.BitAt(uint64(i)) {
				out.SyncCommitteeBits.SetBitAt(uint64(int(sub)*size+i), true)
			}
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) > 0 {
		if agg, err := bls.Aggregate(sigs); err == nil {
			out.SyncCommitteeSignature = phase0.BLSSignature(agg.Bytes())
		}
	}
	return out
}

// syncAggregateSet checks a block's sync aggregate (process_sync_aggregate): the participants of
// the committee signed the previous slot's block root. It returns false when nobody took part
// (then the signature must be the point at infinity).
func (n *Node) syncAggregateSet(slot phase0.Slot, sa *altair.SyncAggregate) (bls.SignatureSet, bool, error) {
	if sa == nil {
		return bls.SignatureSet{}, false, errors.New("sync aggregate missing")
	}
	if sa.SyncCommitteeBits.Len() != n.preset.SyncCommitteeSize {
		return bls.SignatureSet{}, false, fmt.Errorf("sync committee bits have %d bits, SYNC_COMMITTEE_SIZE is %d", sa.SyncCommitteeBits.Len(), n.preset.SyncCommitteeSize)
	}
	if sa.SyncCommitteeBits.Count() == 0 {
		if sa.SyncCommitteeSignature != infinitySignature {
			return bls.SignatureSet{}, false, errors.New("an empty sync aggregate must carry the point at infinity as signature")
		}
		return bls.SignatureSet{}, false, nil
	}
	if slot == 0 {
		return bls.SignatureSet{}, false, errors.New("sync aggregate at slot 0")
	}
	prev := slot - 1
	committee, err := n.syncCommittee(n.syncPeriod(n.slotEpoch(slot)))
	if err != nil {
		return bls.SignatureSet{}, false, err
	}
	var pks []*bls.PublicKey
	for i, v := range committee {
		if sa.SyncCommitteeBits.BitAt(uint64(i)) {
			pks = append(pks, n.gen.Validators[v].pk)
		}
	}
	pk, err := bls.AggregatePublicKeys(pks)
	if err != nil {
		return bls.SignatureSet{}, false, err
	}
	sig, err := bls.SignatureFromBytes(sa.SyncCommitteeSignature[:])
	if err != nil {
		return bls.SignatureSet{}, false, fmt.Errorf("sync aggregate signature does not decode: %w", err)
	}
	root := consensus.SigningRoot(n.blockAt(prev).root, n.domain(consensus.DomainSyncCommittee, n.slotEpoch(prev)))
	return bls.SignatureSet{PublicKey: pk, Message: root[:], Signature: sig}, true, nil
}
