package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	apiv1fulu "github.com/attestantio/go-eth2-client/api/v1/fulu"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	bitfield "github.com/prysmaticlabs/go-bitfield"

	"github.com/zkvlabs/zkv/validator/signer"
)

// runSlot does slot's duties: the proposal at once; attestations and sync-committee messages at a
// third of the slot or on the slot's head event; aggregates and contributions at two thirds
// (phase0 and altair validator.md).
func (s *Service) runSlot(ctx context.Context, slot phase0.Slot) {
	e := s.net.EpochOf(slot)
	d, err := s.dutiesFor(ctx, e)
	if err != nil {
		s.log.Warn("no duties for slot", "slot", slot, "error", err)
		return
	}
	s.checkBreaker(slot)
	var syncDuties []*apiSyncDuty
	if next, err := s.dutiesFor(ctx, s.net.EpochOf(slot+1)); err == nil {
		// The sync committee of slot is that of epoch(slot+1) (altair validator.md, "Sync
		// committee": the block of slot+1 includes the messages).
		for _, sd := range next.sync {
			syncDuties = append(syncDuties, &apiSyncDuty{sd})
		}
	} else {
		s.log.Warn("no sync committee duties for slot", "slot", slot, "error", err)
	}
	var wg sync.WaitGroup
	if p, ok := d.proposers[slot]; ok {
		wg.Go(func() { s.propose(ctx, slot, p.ValidatorIndex) })
	}
	atts := d.attesters[slot]
	if len(atts) == 0 && len(syncDuties) == 0 {
		wg.Wait()
		return
	}
	third := s.spec.slotDuration / 3
	s.mu.Lock()
	head := s.headSignalLocked(slot)
	s.mu.Unlock()
	t := time.NewTimer(time.Until(s.slotStart(slot).Add(third)))
	select {
	case <-t.C:
	case <-head.ch:
	case <-ctx.Done():
	}
	t.Stop()
	if ctx.Err() != nil || s.stopping(slot, "attestations and sync committee messages") {
		wg.Wait()
		return
	}
	var data *phase0.AttestationData
	var blockRoot *phase0.Root
	var inner sync.WaitGroup
	if len(atts) > 0 {
		inner.Go(func() { data = s.attest(ctx, slot, atts) })
	}
	if len(syncDuties) > 0 {
		inner.Go(func() { blockRoot = s.syncMessages(ctx, slot, head, syncDuties) })
	}
	inner.Wait()
	if !s.waitUntil(ctx, s.slotStart(slot).Add(2*third)) || s.stopping(slot, "aggregates and contributions") {
		wg.Wait()
		return
	}
	if data != nil {
		inner.Go(func() { s.aggregate(ctx, slot, data, atts) })
	}
	if blockRoot != nil {
		inner.Go(func() { s.contribute(ctx, slot, *blockRoot, syncDuties) })
	}
	inner.Wait()
	wg.Wait()
}

// stopping reports whether Run's context has ended: duties in flight finish, but no new phase
// of a slot starts signing.
func (s *Service) stopping(slot phase0.Slot, what string) bool {
	select {
	case <-s.stop:
		s.log.Info("stopping: duties not started", "slot", slot, "duties", what)
		return true
	default:
		return false
	}
}

type apiSyncDuty struct{ *apiv1.SyncCommitteeDuty }

func (s *Service) report(r Report) {
	delay := s.o.now().Sub(s.slotStart(r.Slot))
	r.Late = r.Done > 0 && delay > s.lateDeadline(r.Kind)
	s.m.report(r, delay)
	s.mu.Lock()
	s.statsLocked(s.net.EpochOf(r.Slot)).add(r)
	s.mu.Unlock()
	s.o.reports(r)
}

// propose builds, signs and publishes the block of slot (phase0 validator.md "Block proposal";
// Beacon API produceBlockV3). A blinded block signed for a slot is never followed by a local one.
func (s *Service) propose(ctx context.Context, slot phase0.Slot, idx phase0.ValidatorIndex) {
	r := Report{Slot: slot, Kind: "proposal", Failed: 1}
	defer func() {
		if r.Err != nil {
			s.log.Warn("proposal failed", "slot", slot, "validator_index", idx, "error", r.Err)
		}
		s.report(r)
	}()
	vals, _ := s.validatorSet()
	pk := vals[idx]
	randao, err := s.sig.SignRandao(pk, s.net.EpochOf(slot))
	if err != nil {
		r.Err = err
		return
	}
	ps := s.settingsFor(pk)
	if s.brk.isOpen() && (ps.boost == nil || *ps.boost > 0) {
		// The builder circuit breaker is open: the chain is missing blocks, so a local block
		// (builder_boost_factor 0) is the safer proposal (breaker.go).
		s.log.Info("builder circuit breaker open: proposing a local block", "slot", slot, "validator_index", idx)
		ps.boost = new(uint64)
	}
	opts := &api.ProposalOpts{Slot: slot, RandaoReveal: randao, Graffiti: ps.graffiti, BuilderBoostFactor: ps.boost}
	resp, err := s.bn.Proposal(ctx, opts)
	if err != nil {
		r.Err = fmt.Errorf("produce block: %w", err)
		return
	}
	p := resp.Data
	if p != nil && p.Blinded && ps.minBid != nil && (p.ExecutionValue == nil || p.ExecutionValue.Cmp(ps.minBid) < 0) {
		// The proposer config's min_bid: a builder payload worth less than it is not worth the
		// builder's trust; ask again for a local block (builder_boost_factor 0). Nothing was
		// signed for the slot yet, so the blinded block is simply dropped.
		s.log.Info("builder bid below min_bid, proposing a local block", "slot", slot, "validator_index", idx,
			"execution_value", p.ExecutionValue, "min_bid", ps.minBid)
		opts.BuilderBoostFactor = new(uint64)
		if resp, err = s.bn.Proposal(ctx, opts); err != nil {
			r.Err = fmt.Errorf("produce local block: %w", err)
			return
		}
		p = resp.Data
	}
	if p == nil {
		r.Err = errors.New("produce block: empty response")
		return
	}
	bslot, err := p.Slot()
	if err != nil {
		r.Err = fmt.Errorf("produced block: %w", err)
		return
	}
	pidx, err := p.ProposerIndex()
	if err != nil {
		r.Err = fmt.Errorf("produced block: %w", err)
		return
	}
	if bslot != slot || pidx != idx {
		r.Err = fmt.Errorf("beacon node produced a block for slot %d proposer %d, want slot %d proposer %d", bslot, pidx, slot, idx)
		return
	}
	var root phase0.Root
	switch {
	case p.Blinded && p.Version == spec.DataVersionElectra && p.ElectraBlinded != nil:
		root, err = p.ElectraBlinded.HashTreeRoot()
	case p.Blinded && p.Version == spec.DataVersionFulu && p.FuluBlinded != nil:
		root, err = p.FuluBlinded.HashTreeRoot()
	case !p.Blinded && p.Version == spec.DataVersionElectra && p.Electra != nil && p.Electra.Block != nil:
		root, err = p.Electra.Block.HashTreeRoot()
	case !p.Blinded && p.Version == spec.DataVersionFulu && p.Fulu != nil && p.Fulu.Block != nil:
		root, err = p.Fulu.Block.HashTreeRoot()
	default:
		err = fmt.Errorf("proposal of version %s (blinded %v) is not supported", p.Version, p.Blinded)
	}
	if err != nil {
		r.Err = err
		return
	}
	if err := s.claimProposal(slot, p.Blinded); err != nil {
		r.Err = err
		return
	}
	sig, err := s.sig.SignBlock(ctx, pk, slot, root)
	if err != nil {
		r.Err = fmt.Errorf("sign block: %w", err)
		return
	}
	if p.Blinded {
		sb := &api.VersionedSignedBlindedProposal{Version: p.Version}
		if p.Version == spec.DataVersionFulu {
			sb.Fulu = &apiv1electra.SignedBlindedBeaconBlock{Message: p.FuluBlinded, Signature: sig}
		} else {
			sb.Electra = &apiv1electra.SignedBlindedBeaconBlock{Message: p.ElectraBlinded, Signature: sig}
		}
		r.Path = "builder"
		if err := s.bn.SubmitBlindedProposal(ctx, &api.SubmitBlindedProposalOpts{Proposal: sb}); err != nil {
			r.Err = fmt.Errorf("publish blinded block: %w", err)
			return
		}
	} else {
		sp := &api.VersionedSignedProposal{Version: p.Version}
		if p.Version == spec.DataVersionFulu {
			sp.Fulu = &apiv1fulu.SignedBlockContents{SignedBlock: &electra.SignedBeaconBlock{Message: p.Fulu.Block, Signature: sig},
				KZGProofs: p.Fulu.KZGProofs, Blobs: p.Fulu.Blobs}
		} else {
			sp.Electra = &apiv1electra.SignedBlockContents{SignedBlock: &electra.SignedBeaconBlock{Message: p.Electra.Block, Signature: sig},
				KZGProofs: p.Electra.KZGProofs, Blobs: p.Electra.Blobs}
		}
		r.Path = "local"
		if err := s.bn.SubmitProposal(ctx, &api.SubmitProposalOpts{Proposal: sp}); err != nil {
			r.Err = fmt.Errorf("publish block: %w", err)
			return
		}
	}
	r.Done, r.Failed = 1, 0
	s.log.Info("block proposed", "slot", slot, "validator_index", idx, "path", r.Path, "root", fmt.Sprintf("%#x", root))
}

// ErrLocalAfterBlinded: a local block was offered for a slot whose blinded block was already
// signed. Signing it could publish a second block for the slot if the builder reveals the first
// payload late; the proposal is given up instead.
var ErrLocalAfterBlinded = errors.New("a blinded block was already signed for this slot: no local block may follow")

// claimProposal records that a block of slot is about to be signed, and refuses a local block
// once a blinded one was signed for the slot.
func (s *Service) claimProposal(slot phase0.Slot, blinded bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !blinded && s.blinded[slot] {
		return ErrLocalAfterBlinded
	}
	if blinded {
		s.blinded[slot] = true
	}
	return nil
}

// attest fetches the slot's attestation data, has all of the slot's attestations approved by
// slashing protection at once, signs them and publishes them (SingleAttestation from Electra).
func (s *Service) attest(ctx context.Context, slot phase0.Slot, duties []*attesterDuty) *phase0.AttestationData {
	r := Report{Slot: slot, Kind: "attestation", Failed: len(duties)}
	defer func() {
		if r.Err != nil {
			s.log.Warn("attestations failed", "slot", slot, "failed", r.Failed, "error", r.Err)
		}
		s.report(r)
	}()
	version, err := s.version(s.net.EpochOf(slot))
	if err != nil {
		r.Err = err
		return nil
	}
	resp, err := s.bn.AttestationData(ctx, &api.AttestationDataOpts{Slot: slot, CommitteeIndex: 0})
	if err != nil {
		r.Err = fmt.Errorf("attestation data: %w", err)
		return nil
	}
	data := resp.Data
	if data == nil || data.Source == nil || data.Target == nil || data.Slot != slot || data.Target.Epoch != s.net.EpochOf(slot) || data.Source.Epoch > data.Target.Epoch {
		r.Err = fmt.Errorf("beacon node sent unusable attestation data for slot %d", slot)
		return nil
	}
	reqs := make([]signer.AttestationRequest, len(duties))
	for i, d := range duties {
		reqs[i] = signer.AttestationRequest{Pubkey: d.PubKey, Data: data}
	}
	sigs, errs := s.sig.SignAttestations(ctx, reqs)
	var out []*spec.VersionedAttestation
	var signed []phase0.BLSPubKey
	var firstErr error
	defer func() { s.attested(data, signed) }()
	for i, d := range duties {
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = errs[i]
			}
			continue
		}
		bits := bitfield.NewBitlist(d.CommitteeLength)
		bits.SetBitAt(d.ValidatorCommitteeIndex, true)
		cb := bitfield.NewBitvector64()
		cb.SetBitAt(uint64(d.CommitteeIndex), true)
		a := &electra.Attestation{AggregationBits: bits, Data: data, Signature: sigs[i], CommitteeBits: cb}
		idx := d.ValidatorIndex
		va := &spec.VersionedAttestation{Version: version, ValidatorIndex: &idx}
		if version == spec.DataVersionFulu {
			va.Fulu = a
		} else {
			va.Electra = a
		}
		out = append(out, va)
		signed = append(signed, d.PubKey)
	}
	r.Err = firstErr
	if len(out) == 0 {
		return data
	}
	if err := s.bn.SubmitAttestations(ctx, &api.SubmitAttestationsOpts{Attestations: out}); err != nil {
		r.Err = fmt.Errorf("publish %d attestations: %w", len(out), err)
		return data
	}
	r.Done, r.Failed = len(out), len(duties)-len(out)
	return data
}

// aggregate publishes, for each committee of slot where one of this client's validators was
// selected, the beacon node's aggregate signed by the first selected validator.
func (s *Service) aggregate(ctx context.Context, slot phase0.Slot, data *phase0.AttestationData, duties []*attesterDuty) {
	var mine []*attesterDuty
	seen := map[phase0.CommitteeIndex]bool{}
	for _, d := range duties {
		if d.aggregator && !seen[d.CommitteeIndex] {
			seen[d.CommitteeIndex] = true
			mine = append(mine, d)
		}
	}
	if len(mine) == 0 {
		return
	}
	r := Report{Slot: slot, Kind: "aggregate", Failed: len(mine)}
	defer func() {
		if r.Err != nil {
			s.log.Warn("aggregates failed", "slot", slot, "failed", r.Failed, "error", r.Err)
		}
		s.report(r)
	}()
	dataRoot, err := data.HashTreeRoot()
	if err != nil {
		r.Err = err
		return
	}
	var out []*spec.VersionedSignedAggregateAndProof
	for _, d := range mine {
		resp, err := s.bn.AggregateAttestation(ctx, &api.AggregateAttestationOpts{Slot: slot, AttestationDataRoot: dataRoot, CommitteeIndex: d.CommitteeIndex})
		if err != nil {
			r.Err = fmt.Errorf("aggregate of committee %d: %w", d.CommitteeIndex, err)
			continue
		}
		var agg *electra.Attestation
		switch resp.Data.Version {
		case spec.DataVersionElectra:
			agg = resp.Data.Electra
		case spec.DataVersionFulu:
			agg = resp.Data.Fulu
		}
		if agg == nil || agg.Data == nil {
			r.Err = fmt.Errorf("aggregate of committee %d: version %s not handled", d.CommitteeIndex, resp.Data.Version)
			continue
		}
		if root, err := agg.Data.HashTreeRoot(); err != nil || root != dataRoot {
			r.Err = fmt.Errorf("aggregate of committee %d is for other attestation data", d.CommitteeIndex)
			continue
		}
		msg := &electra.AggregateAndProof{AggregatorIndex: d.ValidatorIndex, Aggregate: agg, SelectionProof: d.selectionProof}
		mr, err := msg.HashTreeRoot()
		if err != nil {
			r.Err = err
			continue
		}
		sig, err := s.sig.SignAggregateAndProof(d.PubKey, slot, mr)
		if err != nil {
			r.Err = err
			continue
		}
		v := &spec.VersionedSignedAggregateAndProof{Version: resp.Data.Version}
		if resp.Data.Version == spec.DataVersionFulu {
			v.Fulu = &electra.SignedAggregateAndProof{Message: msg, Signature: sig}
		} else {
			v.Electra = &electra.SignedAggregateAndProof{Message: msg, Signature: sig}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return
	}
	if err := s.bn.SubmitAggregateAttestations(ctx, &api.SubmitAggregateAttestationsOpts{SignedAggregateAndProofs: out}); err != nil {
		r.Err = fmt.Errorf("publish %d aggregates: %w", len(out), err)
		return
	}
	r.Done, r.Failed = len(out), len(mine)-len(out)
}

// syncMessages signs the slot's head block root for every sync-committee member and publishes
// the messages; it returns the root (nil when it could not be learned).
func (s *Service) syncMessages(ctx context.Context, slot phase0.Slot, head *headSignal, duties []*apiSyncDuty) *phase0.Root {
	r := Report{Slot: slot, Kind: "sync_message", Failed: len(duties)}
	defer func() {
		if r.Err != nil {
			s.log.Warn("sync committee messages failed", "slot", slot, "failed", r.Failed, "error", r.Err)
		}
		s.report(r)
	}()
	var root phase0.Root
	s.mu.Lock()
	fired, hr := head.fired, head.root
	s.mu.Unlock()
	if fired {
		root = hr
	} else {
		resp, err := s.bn.BeaconBlockRoot(ctx, &api.BeaconBlockRootOpts{Block: "head"})
		if err != nil {
			r.Err = fmt.Errorf("head block root: %w", err)
			return nil
		}
		root = *resp.Data
	}
	msgs := make([]*altair.SyncCommitteeMessage, 0, len(duties))
	for _, d := range duties {
		sig, err := s.sig.SignSyncCommitteeMessage(d.PubKey, slot, root)
		if err != nil {
			r.Err = err
			continue
		}
		msgs = append(msgs, &altair.SyncCommitteeMessage{Slot: slot, BeaconBlockRoot: root, ValidatorIndex: d.ValidatorIndex, Signature: sig})
	}
	if len(msgs) > 0 {
		if err := s.bn.SubmitSyncCommitteeMessages(ctx, msgs); err != nil {
			r.Err = fmt.Errorf("publish %d sync committee messages: %w", len(msgs), err)
			return &root
		}
	}
	r.Done, r.Failed = len(msgs), len(duties)-len(msgs)
	return &root
}

// contribute publishes a signed contribution for every subcommittee where one of this client's
// members is selected as aggregator (altair validator.md, "Sync committee contributions").
func (s *Service) contribute(ctx context.Context, slot phase0.Slot, root phase0.Root, duties []*apiSyncDuty) {
	subSize := s.spec.syncCommitteeSize / s.spec.syncSubnets
	type pick struct {
		d     *apiSyncDuty
		sub   uint64
		proof phase0.BLSSignature
	}
	var picks []pick
	seen := map[uint64]bool{}
	for _, d := range duties {
		for _, pos := range d.ValidatorSyncCommitteeIndices {
			sub := uint64(pos) / subSize
			if seen[sub] {
				continue
			}
			proof, err := s.sig.SignSyncSelectionProof(d.PubKey, slot, sub)
			if err != nil {
				s.log.Warn("sync selection proof", "slot", slot, "error", err)
				continue
			}
			if s.isSyncAggregator(proof) {
				seen[sub] = true
				picks = append(picks, pick{d, sub, proof})
			}
		}
	}
	if len(picks) == 0 {
		return
	}
	r := Report{Slot: slot, Kind: "contribution", Failed: len(picks)}
	defer func() {
		if r.Err != nil {
			s.log.Warn("contributions failed", "slot", slot, "failed", r.Failed, "error", r.Err)
		}
		s.report(r)
	}()
	var out []*altair.SignedContributionAndProof
	for _, p := range picks {
		resp, err := s.bn.SyncCommitteeContribution(ctx, &api.SyncCommitteeContributionOpts{Slot: slot, SubcommitteeIndex: p.sub, BeaconBlockRoot: root})
		if err != nil {
			r.Err = fmt.Errorf("contribution of subcommittee %d: %w", p.sub, err)
			continue
		}
		c := resp.Data
		if c == nil || c.Slot != slot || c.SubcommitteeIndex != p.sub || c.BeaconBlockRoot != root {
			r.Err = fmt.Errorf("contribution of subcommittee %d does not match the request", p.sub)
			continue
		}
		msg := &altair.ContributionAndProof{AggregatorIndex: p.d.ValidatorIndex, Contribution: c, SelectionProof: p.proof}
		sig, err := s.sig.SignContributionAndProof(p.d.PubKey, msg)
		if err != nil {
			r.Err = err
			continue
		}
		out = append(out, &altair.SignedContributionAndProof{Message: msg, Signature: sig})
	}
	if len(out) == 0 {
		return
	}
	if err := s.bn.SubmitSyncCommitteeContributions(ctx, out); err != nil {
		r.Err = fmt.Errorf("publish %d contributions: %w", len(out), err)
		return
	}
	r.Done, r.Failed = len(out), len(picks)-len(out)
}
