package beacon

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	bitfield "github.com/prysmaticlabs/go-bitfield"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// attestationPropagationSlotRange is ATTESTATION_PROPAGATION_SLOT_RANGE (p2p-interface.md).
const attestationPropagationSlotRange = 32

// ErrSlashable is returned for a message that, with one the node has already seen from the same
// validator, would be slashable (EIP-3076 / is_slashable_attestation_data: a double vote or a
// surround).
var ErrSlashable = errors.New("slashable")

// attRecord is an attestation the node accepted from one validator, kept for slashing checks.
type attRecord struct {
	source, target phase0.Epoch
	dataRoot       phase0.Root
}

// voteKey is an FFG target vote: the target checkpoint.
type voteKey struct {
	epoch phase0.Epoch
	root  phase0.Root
}

// votes counts, per target checkpoint, the validators whose vote had a matching source and target
// (the balances process_justification_and_finalization weighs).
type votes map[voteKey]map[phase0.ValidatorIndex]struct{}

func (v votes) add(e phase0.Epoch, root phase0.Root, idx phase0.ValidatorIndex) bool {
	k := voteKey{e, root}
	m := v[k]
	if m == nil {
		m = make(map[phase0.ValidatorIndex]struct{})
		v[k] = m
	}
	if _, ok := m[idx]; ok {
		return false
	}
	m[idx] = struct{}{}
	return true
}

func (v votes) balance(e phase0.Epoch, root phase0.Root) uint64 {
	return uint64(len(v[voteKey{e, root}])) * effectiveBalance
}

func (v votes) drop(e phase0.Epoch) {
	for k := range v {
		if k.epoch <= e {
			delete(v, k)
		}
	}
}

// aggKey identifies an aggregate of one committee's votes on one attestation data.
type aggKey struct {
	slot      phase0.Slot
	committee phase0.CommitteeIndex
	dataRoot  phase0.Root
}

// aggregate is the node's running aggregate of single attestations (and aggregates) for an aggKey.
type aggregate struct {
	data     *phase0.AttestationData
	bits     bitfield.Bitlist
	sig      *bls.Signature
	included bool // in a block of this chain already
}

// pendingAttestation is a checked-so-far single attestation waiting for its signature check.
type pendingAttestation struct {
	att       *electra.SingleAttestation
	dataRoot  phase0.Root
	committee []uint64
	position  int
	sig       *bls.Signature
}

// attestationDomain is the DOMAIN_BEACON_ATTESTER domain of the fork at epoch e.
func (n *Node) domain(domainType [4]byte, e phase0.Epoch) [32]byte {
	return consensus.ComputeDomain(domainType, n.forkVersionAt(e), n.gen.GenesisValidatorsRoot)
}

// checkAttestationData applies the gossip rules every attestation shares (p2p-interface.md,
// beacon_attestation_{subnet_id}, Electra) and the FFG consistency of its target.
func (n *Node) checkAttestationData(d *phase0.AttestationData) error {
	if d == nil || d.Source == nil || d.Target == nil {
		return errors.New("attestation data incomplete: data, source and target are required")
	}
	cur := n.currentSlot()
	if d.Slot > cur {
		return fmt.Errorf("attestation slot %d is in the future (current slot %d)", d.Slot, cur)
	}
	if uint64(d.Slot)+attestationPropagationSlotRange < uint64(cur) {
		return fmt.Errorf("attestation slot %d is older than ATTESTATION_PROPAGATION_SLOT_RANGE (current slot %d)", d.Slot, cur)
	}
	curEpoch := n.slotEpoch(cur)
	e := n.slotEpoch(d.Slot)
	if e+1 < curEpoch {
		return fmt.Errorf("attestation epoch %d is neither the current (%d) nor the previous epoch", e, curEpoch)
	}
	if d.Target.Epoch != e {
		return fmt.Errorf("target epoch %d is not the epoch of slot %d (%d)", d.Target.Epoch, d.Slot, e)
	}
	if d.Index != 0 {
		return fmt.Errorf("attestation data index must be 0 from Electra on, got %d", d.Index)
	}
	head, ok := n.st.blocks[d.BeaconBlockRoot]
	if !ok {
		return fmt.Errorf("unknown beacon block root %s", d.BeaconBlockRoot)
	}
	if head.slot > d.Slot {
		return fmt.Errorf("beacon block root %s is of slot %d, after the attestation slot %d", d.BeaconBlockRoot, head.slot, d.Slot)
	}
	if want := n.checkpointRoot(d.Target.Epoch, head); d.Target.Root != want {
		return fmt.Errorf("target root %s is not the checkpoint of epoch %d on the chain of the voted block (%s)", d.Target.Root, d.Target.Epoch, want)
	}
	if d.Source.Epoch >= d.Target.Epoch && !(d.Source.Epoch == 0 && d.Target.Epoch == 0) {
		return fmt.Errorf("source epoch %d is not before target epoch %d", d.Source.Epoch, d.Target.Epoch)
	}
	return nil
}

// checkSlashable refuses an attestation by idx that is slashable with one seen before; it
// reports whether the very same data was seen (a harmless repeat).
func (n *Node) checkSlashable(idx phase0.ValidatorIndex, d *phase0.AttestationData, dataRoot phase0.Root) (repeat bool, err error) {
	for _, r := range n.st.seen[idx] {
		switch {
		case r.target == d.Target.Epoch && r.dataRoot == dataRoot:
			return true, nil
		case r.target == d.Target.Epoch:
			return false, fmt.Errorf("%w: validator %d double vote for target epoch %d (an attestation with other data was received)", ErrSlashable, idx, r.target)
		case d.Source.Epoch < r.source && r.target < d.Target.Epoch:
			return false, fmt.Errorf("%w: validator %d surround vote: source %d target %d surrounds its earlier source %d target %d", ErrSlashable, idx, d.Source.Epoch, d.Target.Epoch, r.source, r.target)
		case r.source < d.Source.Epoch && d.Target.Epoch < r.target:
			return false, fmt.Errorf("%w: validator %d surrounded vote: source %d target %d is surrounded by its earlier source %d target %d", ErrSlashable, idx, d.Source.Epoch, d.Target.Epoch, r.source, r.target)
		}
	}
	return false, nil
}

// recordVote keeps an accepted vote of idx: for slashing checks, liveness and FFG.
func (n *Node) recordVote(idx phase0.ValidatorIndex, d *phase0.AttestationData, dataRoot phase0.Root) {
	n.st.seen[idx] = append(n.st.seen[idx], attRecord{source: d.Source.Epoch, target: d.Target.Epoch, dataRoot: dataRoot})
	n.markLive(idx, n.slotEpoch(d.Slot))
	// process_attestation: the source must be the justified checkpoint the state holds for the
	// target's epoch, else the vote does not count toward justification.
	want := n.st.ffg.CurrentJustified
	if d.Target.Epoch < n.slotEpoch(n.currentSlot()) {
		want = n.st.ffg.PreviousJustified
	}
	if d.Source.Epoch != phase0.Epoch(want.Epoch) || d.Source.Root != phase0.Root(want.Root) {
		n.log.Warn("attestation source is not the justified checkpoint: it does not count toward justification",
			"validator", idx, "source_epoch", d.Source.Epoch, "justified_epoch", want.Epoch)
		return
	}
	n.st.votes.add(d.Target.Epoch, d.Target.Root, idx)
}

func (n *Node) markLive(idx phase0.ValidatorIndex, e phase0.Epoch) {
	m := n.st.liveness[e]
	if m == nil {
		m = make(map[phase0.ValidatorIndex]bool)
		n.st.liveness[e] = m
	}
	m[idx] = true
}

// indexedError is one refused item of a list submission (the Beacon API's IndexedErrorMessage).
type indexedError struct {
	Index   int    `json:"index"`
	Message string `json:"message"`
}

// SubmitAttestations checks and pools single attestations (submitPoolAttestationsV2): data, the
// committee, the slashing conditions against everything seen, and every signature in one batch
// grouped by message. It returns one error per refused item; the others are accepted.
func (n *Node) SubmitAttestations(atts []*electra.SingleAttestation) []indexedError {
	var failures []indexedError
	pending := make([]*pendingAttestation, 0, len(atts))
	pendIdx := make([]int, 0, len(atts))
	v := bls.NewVerifier(len(atts))

	// Decompressing and subgroup-checking signatures is most of the work when attestations share
	// their data (a committee's votes do): do it on every core, before taking the lock.
	raw := make([]phase0.BLSSignature, len(atts))
	for i, a := range atts {
		if a != nil {
			raw[i] = a.Signature
		}
	}
	sigs, sigErrs := decodeSignatures(raw)

	n.mu.Lock()
	n.advance()
	for i, a := range atts {
		if a != nil && sigErrs[i] != nil {
			failures = append(failures, indexedError{Index: i, Message: fmt.Sprintf("signature does not decode: %v", sigErrs[i])})
			continue
		}
		p, set, err := n.checkSingle(a, sigs[i])
		if err != nil {
			failures = append(failures, indexedError{Index: i, Message: err.Error()})
			continue
		}
		pending = append(pending, p)
		pendIdx = append(pendIdx, i)
		v.Add(set)
	}
	n.mu.Unlock()

	bad := map[int]bool{}
	if len(pending) > 0 {
		for _, j := range v.Invalid() {
			bad[j] = true
			failures = append(failures, indexedError{Index: pendIdx[j], Message: "invalid signature: not a signature of the attestation data's signing root (DOMAIN_BEACON_ATTESTER) by the attester"})
		}
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	for j, p := range pending {
		if bad[j] {
			continue
		}
		if err := n.acceptSingle(p); err != nil {
			failures = append(failures, indexedError{Index: pendIdx[j], Message: err.Error()})
		}
	}
	n.metrics.attestations.Add(float64(len(atts) - len(failures)))
	sortFailures(failures)
	for _, f := range failures {
		n.log.Info("attestation refused", "index", f.Index, "reason", f.Message)
	}
	return failures
}

// checkSingle runs every check of a single attestation but the signature and returns its
// signature set.
func (n *Node) checkSingle(a *electra.SingleAttestation, sig *bls.Signature) (*pendingAttestation, bls.SignatureSet, error) {
	if a == nil {
		return nil, bls.SignatureSet{}, errors.New("empty attestation")
	}
	if err := n.checkAttestationData(a.Data); err != nil {
		return nil, bls.SignatureSet{}, err
	}
	committee, err := n.committee(a.Data.Slot, a.CommitteeIndex)
	if err != nil {
		return nil, bls.SignatureSet{}, err
	}
	pos := -1
	for i, m := range committee {
		if phase0.ValidatorIndex(m) == a.AttesterIndex {
			pos = i
			break
		}
	}
	if pos < 0 {
		return nil, bls.SignatureSet{}, fmt.Errorf("attester %d is not a member of committee %d at slot %d", a.AttesterIndex, a.CommitteeIndex, a.Data.Slot)
	}
	dataRoot, err := a.Data.HashTreeRoot()
	if err != nil {
		return nil, bls.SignatureSet{}, fmt.Errorf("hash attestation data: %w", err)
	}
	if _, err := n.checkSlashable(a.AttesterIndex, a.Data, dataRoot); err != nil {
		return nil, bls.SignatureSet{}, err
	}
	root := consensus.SigningRoot(dataRoot, n.domain(consensus.DomainBeaconAttester, a.Data.Target.Epoch))
	set := bls.SignatureSet{PublicKey: n.gen.Validators[a.AttesterIndex].pk, Message: root[:], Signature: sig}
	return &pendingAttestation{att: a, dataRoot: dataRoot, committee: committee, position: pos, sig: sig}, set, nil
}

// acceptSingle records a verified single attestation, re-checking slashability (another request
// may have recorded a vote by the same validator while the signatures were checked).
func (n *Node) acceptSingle(p *pendingAttestation) error {
	a := p.att
	repeat, err := n.checkSlashable(a.AttesterIndex, a.Data, p.dataRoot)
	if err != nil {
		return err
	}
	if repeat {
		return nil
	}
	n.recordVote(a.AttesterIndex, a.Data, p.dataRoot)
	n.addToAggregate(aggKey{a.Data.Slot, a.CommitteeIndex, p.dataRoot}, a.Data, len(p.committee), []int{p.position}, p.sig)
	n.events.publish("single_attestation", a)
	return nil
}

// addToAggregate merges votes (positions in the committee, one signature over them) into the
// pool's aggregate when they are disjoint from it; overlapping votes keep the larger set.
func (n *Node) addToAggregate(k aggKey, d *phase0.AttestationData, committeeLen int, positions []int, sig *bls.Signature) {
	agg := n.st.aggregates[k]
	if agg == nil {
		bits := bitfield.NewBitlist(uint64(committeeLen))
		for _, p := range positions {
			bits.SetBitAt(uint64(p), true)
		}
		n.st.aggregates[k] = &aggregate{data: d, bits: bits, sig: sig}
		return
	}
	for _, p := range positions {
		if agg.bits.BitAt(uint64(p)) {
			if len(positions) > int(agg.bits.Count()) {
				bits := bitfield.NewBitlist(uint64(committeeLen))
				for _, q := range positions {
					bits.SetBitAt(uint64(q), true)
				}
				agg.bits, agg.sig = bits, sig
			}
			return
		}
	}
	merged, err := bls.Aggregate([]*bls.Signature{agg.sig, sig})
	if err != nil {
		return
	}
	for _, p := range positions {
		agg.bits.SetBitAt(uint64(p), true)
	}
	agg.sig = merged
}

// decodeSignatures decodes (decompression and subgroup check) signatures on every core.
func decodeSignatures(raw []phase0.BLSSignature) ([]*bls.Signature, []error) {
	sigs := make([]*bls.Signature, len(raw))
	errs := make([]error, len(raw))
	workers := min(runtime.GOMAXPROCS(0), (len(raw)+15)/16)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raw); i += workers {
				sigs[i], errs[i] = bls.SignatureFromBytes(raw[i][:])
			}
		}()
	}
	wg.Wait()
	return sigs, errs
}

func sortFailures(f []indexedError) {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j].Index < f[j-1].Index; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
}
