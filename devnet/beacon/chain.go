package beacon

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// effectiveBalance is every devnet validator's effective balance (32 ETH in gwei): the simulator
// has no rewards or penalties.
const effectiveBalance = 32_000_000_000

// blockRec is an accepted block (or the genesis block) of the devnet's one chain.
type blockRec struct {
	root      phase0.Root
	slot      phase0.Slot
	parent    phase0.Root
	stateRoot phase0.Root
	proposer  phase0.ValidatorIndex
	version   spec.DataVersion
	// signed is the full (unblinded) block; nil for genesis.
	signed    *electra.SignedBeaconBlock
	header    *phase0.BeaconBlockHeader
	signature phase0.BLSSignature
	// mix is the running RANDAO mix after this block.
	mix [32]byte
}

// epochInfo holds what duties of one epoch need: the shuffled active set and the proposers.
type epochInfo struct {
	epoch             phase0.Epoch
	active            []uint64
	shuffled          []uint64
	committeesPerSlot uint64
	proposers         []phase0.ValidatorIndex // one per slot of the epoch
	// position of each validator in its committee, for duties: index -> (slot, committee, pos)
	duty map[phase0.ValidatorIndex]attesterDuty
}

type attesterDuty struct {
	slot            phase0.Slot
	committee       phase0.CommitteeIndex
	committeeLength uint64
	position        uint64
}

// slotEpoch is compute_epoch_at_slot.
func (n *Node) slotEpoch(s phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(s) / n.preset.SlotsPerEpoch)
}

// epochStart is compute_start_slot_at_epoch.
func (n *Node) epochStart(e phase0.Epoch) phase0.Slot {
	return phase0.Slot(uint64(e) * n.preset.SlotsPerEpoch)
}

// activeAt lists the validators active in epoch e (is_active_validator: the devnet activates
// everyone at genesis; exits end it).
func (n *Node) activeAt(e phase0.Epoch) []uint64 {
	out := make([]uint64, 0, len(n.gen.Validators))
	for i := range n.gen.Validators {
		if ex, ok := n.st.exits[phase0.ValidatorIndex(i)]; ok && e >= ex {
			continue
		}
		out = append(out, uint64(i))
	}
	return out
}

// finalMixOf is the RANDAO mix at the end of epoch e (the genesis mix for e < 0, passed as
// negative through ok=false). Only epochs before the current one are final.
func (n *Node) finalMixOf(e int64) [32]byte {
	if e < 0 {
		return genesisMix
	}
	if m, ok := n.st.finalMix[phase0.Epoch(e)]; ok {
		return m
	}
	// No epoch transition recorded yet for e: the running mix is the mix of e when no block of a
	// later epoch exists (callers only ask for ended epochs, see epoch).
	return n.st.head.mix
}

// seed is get_seed(state, epoch, domain): the mix at the end of epoch - MIN_SEED_LOOKAHEAD - 1.
func (n *Node) seed(e phase0.Epoch, domain [4]byte) [32]byte {
	return consensus.Seed(n.finalMixOf(int64(e)-int64(n.preset.MinSeedLookahead)-1), domain, uint64(e))
}

func balanceOf(uint64) uint64 { return effectiveBalance }

// epoch returns the duties of epoch e, computing them once. e may be at most the current epoch +
// MIN_SEED_LOOKAHEAD: the RANDAO mix it depends on must be final.
func (n *Node) epoch(e phase0.Epoch) (*epochInfo, error) {
	if ei, ok := n.st.epochs[e]; ok {
		return ei, nil
	}
	cur := n.slotEpoch(n.currentSlot())
	if uint64(e) > uint64(cur)+n.preset.MinSeedLookahead {
		return nil, fmt.Errorf("epoch %d is too far ahead: duties are known up to epoch %d", e, uint64(cur)+n.preset.MinSeedLookahead)
	}
	n.transitions()
	active := n.activeAt(e)
	if len(active) == 0 {
		return nil, fmt.Errorf("no active validators in epoch %d", e)
	}
	ei := &epochInfo{epoch: e, active: active, duty: make(map[phase0.ValidatorIndex]attesterDuty, len(active))}
	ei.shuffled = consensus.Shuffle(active, n.seed(e, consensus.DomainBeaconAttester), n.preset.ShuffleRoundCount)
	ei.committeesPerSlot = consensus.CommitteeCountPerSlot(uint64(len(active)), n.preset)
	for s := uint64(0); s < n.preset.SlotsPerEpoch; s++ {
		slot := n.epochStart(e) + phase0.Slot(s)
		for c := uint64(0); c < ei.committeesPerSlot; c++ {
			committee := consensus.BeaconCommittee(ei.shuffled, uint64(slot), c, ei.committeesPerSlot, n.preset)
			for pos, v := range committee {
				ei.duty[phase0.ValidatorIndex(v)] = attesterDuty{slot: slot, committee: phase0.CommitteeIndex(c), committeeLength: uint64(len(committee)), position: uint64(pos)}
			}
		}
	}
	proposerSeed := n.seed(e, consensus.DomainBeaconProposer)
	for s := uint64(0); s < n.preset.SlotsPerEpoch; s++ {
		slot := uint64(n.epochStart(e)) + s
		p, err := consensus.ProposerIndex(active, consensus.ProposerSeed(proposerSeed, slot), balanceOf, n.preset)
		if err != nil {
			return nil, fmt.Errorf("proposer of slot %d: %w", slot, err)
		}
		ei.proposers = append(ei.proposers, phase0.ValidatorIndex(p))
	}
	n.st.epochs[e] = ei
	return ei, nil
}

// committee returns the beacon committee (validator indices) of (slot, index).
func (n *Node) committee(slot phase0.Slot, index phase0.CommitteeIndex) ([]uint64, error) {
	ei, err := n.epoch(n.slotEpoch(slot))
	if err != nil {
		return nil, err
	}
	if uint64(index) >= ei.committeesPerSlot {
		return nil, fmt.Errorf("committee index %d out of range: slot %d has %d committees", index, slot, ei.committeesPerSlot)
	}
	return consensus.BeaconCommittee(ei.shuffled, uint64(slot), uint64(index), ei.committeesPerSlot, n.preset), nil
}

// proposerAt is the expected proposer of slot.
func (n *Node) proposerAt(slot phase0.Slot) (phase0.ValidatorIndex, error) {
	ei, err := n.epoch(n.slotEpoch(slot))
	if err != nil {
		return 0, err
	}
	return ei.proposers[uint64(slot)%n.preset.SlotsPerEpoch], nil
}

// syncPeriod is compute_sync_committee_period.
func (n *Node) syncPeriod(e phase0.Epoch) uint64 {
	return uint64(e) / n.preset.EpochsPerSyncCommitteePeriod
}

// syncCommittee returns the sync committee of a period (Altair: the genesis state holds the same
// committee as current and next; at the end of each period's last epoch the next-next committee is
// drawn with get_next_sync_committee from the state of that moment).
func (n *Node) syncCommittee(period uint64) ([]phase0.ValidatorIndex, error) {
	if c, ok := n.st.syncCommittees[period]; ok {
		return c, nil
	}
	cur := n.syncPeriod(n.slotEpoch(n.currentSlot()))
	if period > cur+1 {
		return nil, fmt.Errorf("sync committee period %d is not known yet (current period %d)", period, cur)
	}
	// The committee of period p >= 2 is computed at the end of epoch (p-1)*P - 1 for epoch
	// (p-1)*P, whose seed reads the mix at the end of epoch (p-1)*P - 2; periods 0 and 1 come
	// from the genesis state (epoch 1).
	seedEpoch := phase0.Epoch(1)
	if period >= 2 {
		seedEpoch = phase0.Epoch((period - 1) * n.preset.EpochsPerSyncCommitteePeriod)
	}
	n.transitions()
	active := n.activeAt(seedEpoch)
	idx, err := consensus.SyncCommitteeIndices(active, n.seed(seedEpoch, consensus.DomainSyncCommittee), balanceOf, n.preset)
	if err != nil {
		return nil, fmt.Errorf("sync committee of period %d: %w", period, err)
	}
	c := make([]phase0.ValidatorIndex, len(idx))
	for i, v := range idx {
		c[i] = phase0.ValidatorIndex(v)
	}
	n.st.syncCommittees[period] = c
	return c, nil
}

// blockAt returns the canonical block at or before slot (get_block_root_at_slot's block).
func (n *Node) blockAt(slot phase0.Slot) *blockRec {
	for b := n.st.head; ; b = n.st.blocks[b.parent] {
		if b.slot <= slot || b == n.st.genesis {
			return b
		}
	}
}

// checkpointRoot is the root of epoch e's checkpoint on the chain ending in tip: the block at or
// before the epoch's first slot.
func (n *Node) checkpointRoot(e phase0.Epoch, tip *blockRec) phase0.Root {
	start := n.epochStart(e)
	for b := tip; ; b = n.st.blocks[b.parent] {
		if b.slot <= start || b == n.st.genesis {
			return b.root
		}
	}
}

// dependentRoot is the block root at slot start(e)-1 (genesis block for e = 0): duties of epoch
// e change only if it changes.
func (n *Node) dependentRoot(e phase0.Epoch) phase0.Root {
	if e == 0 {
		return n.st.genesis.root
	}
	return n.blockAt(n.epochStart(e) - 1).root
}

// stateRootFor is the devnet's state root after a block: a hash of the parent's state root and
// what the block changes. It is not an SSZ BeaconState root (see the package documentation), but
// it is a function of the chain, so a block carrying another one is refused.
func stateRootFor(parentState phase0.Root, slot phase0.Slot, proposer phase0.ValidatorIndex, bodyRoot phase0.Root) phase0.Root {
	h := sha256.New()
	h.Write([]byte("zkv devnet state"))
	h.Write(parentState[:])
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(slot))
	binary.LittleEndian.PutUint64(b[8:], uint64(proposer))
	h.Write(b[:])
	h.Write(bodyRoot[:])
	var r phase0.Root
	h.Sum(r[:0])
	return r
}

// advance runs the epoch transitions between the last one processed and the current slot: it
// fixes each ended epoch's RANDAO mix and runs Casper FFG justification and finalization on the
// votes received (process_justification_and_finalization at the end of each epoch).
func (n *Node) advance() {
	n.transitions()
	// Announce the attributes of the current and the next slot on the head: the clock, not only a
	// request for a block, moves the chain to a new slot.
	if !n.cfg.Now().Before(n.cfg.GenesisTime) {
		slot := n.currentSlot()
		n.announceAttributes(slot)
		n.announceAttributes(slot + 1)
	}
}

// transitions is the epoch processing part of advance.
func (n *Node) transitions() {
	cur := n.slotEpoch(n.currentSlot())
	for n.st.processedEpoch < cur {
		e := n.st.processedEpoch // the epoch that ended
		if _, ok := n.st.finalMix[e]; !ok {
			n.st.finalMix[e] = n.st.head.mix
		}
		n.processJustification(e)
		n.st.processedEpoch++
		n.st.ffgAt[n.st.processedEpoch] = n.st.ffg
		n.prune(e)
	}
}

// processJustification is the end of epoch e.
func (n *Node) processJustification(e phase0.Epoch) {
	total := uint64(len(n.activeAt(e))) * effectiveBalance
	var prevRoot phase0.Root
	var prevTarget uint64
	if e > 0 {
		prevRoot = n.checkpointRoot(e-1, n.st.head)
		prevTarget = n.st.votes.balance(e-1, prevRoot)
	}
	currRoot := n.checkpointRoot(e, n.st.head)
	currTarget := n.st.votes.balance(e, currRoot)
	oldFinal := n.st.ffg.Finalized
	justified, finalized := n.st.ffg.Process(uint64(e), total, prevTarget, currTarget, prevRoot, currRoot)
	n.log.Info("epoch processed", "epoch", e,
		"participation_prev", ratio(prevTarget, total), "participation_curr", ratio(currTarget, total),
		"justified_epoch", n.st.ffg.CurrentJustified.Epoch, "finalized_epoch", n.st.ffg.Finalized.Epoch,
		"newly_justified", justified, "newly_finalized", finalized)
	if finalized && n.st.ffg.Finalized != oldFinal {
		n.events.publish("finalized_checkpoint", finalizedEvent{
			Block: phase0.Root(n.st.ffg.Finalized.Root).String(), State: n.stateRootOf(n.st.ffg.Finalized.Root).String(),
			Epoch: fmt.Sprint(n.st.ffg.Finalized.Epoch), ExecutionOptimistic: false,
		})
	}
}

func ratio(a, b uint64) string {
	if b == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3f", float64(a)/float64(b))
}

func (n *Node) stateRootOf(root [32]byte) phase0.Root {
	if b, ok := n.st.blocks[phase0.Root(root)]; ok {
		return b.stateRoot
	}
	return phase0.Root{}
}

// prune drops what no check needs any more once epoch e has ended: epoch caches and pools more
// than a few epochs old. Votes are kept two epochs (FFG reads the previous epoch); the per-validator
// attestation history used for slashing checks is kept whole.
func (n *Node) prune(e phase0.Epoch) {
	if e < 4 {
		return
	}
	old := e - 4
	delete(n.st.epochs, old)
	n.st.votes.drop(old)
	for k := range n.st.aggregates {
		if n.slotEpoch(k.slot) <= old {
			delete(n.st.aggregates, k)
		}
	}
	for k := range n.st.syncMsgs {
		if n.slotEpoch(k.slot) <= old {
			delete(n.st.syncMsgs, k)
		}
	}
	delete(n.st.liveness, old)
	for s := range n.st.attrsSent {
		if n.slotEpoch(s) <= old {
			delete(n.st.attrsSent, s)
		}
	}
	for s := range n.st.proposals {
		if n.slotEpoch(s) <= old {
			delete(n.st.proposals, s)
		}
	}
}
