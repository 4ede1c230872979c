// Package beacontest drives a beacon node's duties from outside, for tests: a Signer holds the
// devnet keys and, slot by slot, proposes, attests, aggregates and signs sync-committee messages
// through the standard Beacon API with go-eth2-client's HTTP client. It is a test helper, not a
// validator client: no slashing protection, no doppelganger check, no timing of its own (the test
// calls Slot when it wants a slot's duties done).
//
// It computes domains and signing roots with go-eth2-client (the client's Domain, which reads the
// node's fork schedule and genesis) and its own aggregator selection, not with package consensus,
// so that a mistake shared by the node and this helper cannot hide.
package beacontest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	bitfield "github.com/prysmaticlabs/go-bitfield"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Spec domain types (phase0/altair beacon-chain.md), written out here rather than imported so the
// helper stays independent of the node's code.
var (
	domainBeaconProposer       = phase0.DomainType{0x00, 0, 0, 0}
	domainBeaconAttester       = phase0.DomainType{0x01, 0, 0, 0}
	domainRandao               = phase0.DomainType{0x02, 0, 0, 0}
	domainSelectionProof       = phase0.DomainType{0x05, 0, 0, 0}
	domainAggregateAndProof    = phase0.DomainType{0x06, 0, 0, 0}
	domainSyncCommittee        = phase0.DomainType{0x07, 0, 0, 0}
	domainSyncSelectionProof   = phase0.DomainType{0x08, 0, 0, 0}
	domainContributionAndProof = phase0.DomainType{0x09, 0, 0, 0}
)

// Client is the go-eth2-client service the signer needs.
type Client interface {
	eth2client.Service
	eth2client.DomainProvider
	eth2client.ProposerDutiesProvider
	eth2client.AttesterDutiesProvider
	eth2client.SyncCommitteeDutiesProvider
	eth2client.AttestationDataProvider
	eth2client.AttestationsSubmitter
	eth2client.AggregateAttestationProvider
	eth2client.AggregateAttestationsSubmitter
	eth2client.ProposalProvider
	eth2client.ProposalSubmitter
	eth2client.BlindedProposalSubmitter
	eth2client.SyncCommitteeMessagesSubmitter
	eth2client.SyncCommitteeContributionProvider
	eth2client.SyncCommitteeContributionsSubmitter
	eth2client.BeaconBlockRootProvider
	eth2client.SpecProvider
	eth2client.FinalityProvider
}

// Signer signs duties for a set of validators.
type Signer struct {
	Client  Client
	secrets map[phase0.ValidatorIndex]*bls.SecretKey
	// Silent validators do nothing.
	Silent map[phase0.ValidatorIndex]bool
	// Graffiti goes into proposals.
	Graffiti [32]byte
	// BuilderBoostFactor is passed to produceBlockV3 when set.
	BuilderBoostFactor *uint64

	slotsPerEpoch uint64
	proposers     map[phase0.Epoch][]*apiv1.ProposerDuty
	attesters     map[phase0.Epoch][]*apiv1.AttesterDuty
	sync          map[phase0.Epoch][]*apiv1.SyncCommitteeDuty
}

// Dial connects go-eth2-client's HTTP client to a beacon node.
func Dial(ctx context.Context, url string) (Client, error) {
	svc, err := eth2http.New(ctx, eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(20*time.Second))
	if err != nil {
		return nil, err
	}
	c, ok := svc.(Client)
	if !ok {
		return nil, errors.New("go-eth2-client service lacks a provider the signer needs")
	}
	return c, nil
}

// New makes a signer for the validators whose secret keys are given (index -> key).
func New(ctx context.Context, c Client, secrets map[phase0.ValidatorIndex]*bls.SecretKey) (*Signer, error) {
	resp, err := c.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	spe, ok := resp.Data["SLOTS_PER_EPOCH"].(uint64)
	if !ok || spe == 0 {
		return nil, errors.New("spec has no SLOTS_PER_EPOCH")
	}
	return &Signer{Client: c, secrets: secrets, Silent: map[phase0.ValidatorIndex]bool{}, slotsPerEpoch: spe,
		proposers: map[phase0.Epoch][]*apiv1.ProposerDuty{}, attesters: map[phase0.Epoch][]*apiv1.AttesterDuty{},
		sync: map[phase0.Epoch][]*apiv1.SyncCommitteeDuty{}}, nil
}

func (s *Signer) indices() []phase0.ValidatorIndex {
	out := make([]phase0.ValidatorIndex, 0, len(s.secrets))
	for i := range s.secrets {
		out = append(out, i)
	}
	return out
}

func (s *Signer) active(i phase0.ValidatorIndex) bool {
	_, ok := s.secrets[i]
	return ok && !s.Silent[i]
}

// sign signs an object root under a domain of the given type at epoch.
func (s *Signer) sign(ctx context.Context, i phase0.ValidatorIndex, root phase0.Root, dt phase0.DomainType, e phase0.Epoch) (phase0.BLSSignature, error) {
	domain, err := s.Client.Domain(ctx, dt, e)
	if err != nil {
		return phase0.BLSSignature{}, fmt.Errorf("domain: %w", err)
	}
	sr, err := (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return phase0.BLSSignature(s.secrets[i].Sign(sr[:]).Bytes()), nil
}

// uintRoot is hash_tree_root(uint64): the value little-endian in a zero-padded chunk.
func uintRoot(v uint64) phase0.Root {
	var r phase0.Root
	binary.LittleEndian.PutUint64(r[:8], v)
	return r
}

// Report counts what one Slot did.
type Report struct {
	Proposed, Blinded                      bool
	Attestations, Aggregates, SyncMessages int
	Contributions                          int
}

// Slot does every duty of slot for the signer's validators: the proposal, then attestations,
// sync-committee messages, aggregates and contributions.
func (s *Signer) Slot(ctx context.Context, slot phase0.Slot) (Report, error) {
	var r Report
	var err error
	if r.Proposed, r.Blinded, err = s.Propose(ctx, slot); err != nil {
		return r, fmt.Errorf("propose: %w", err)
	}
	data, n, err := s.Attest(ctx, slot)
	if err != nil {
		return r, fmt.Errorf("attest: %w", err)
	}
	r.Attestations = n
	if r.SyncMessages, err = s.SyncMessages(ctx, slot); err != nil {
		return r, fmt.Errorf("sync messages: %w", err)
	}
	if data != nil {
		if r.Aggregates, err = s.Aggregate(ctx, slot, data); err != nil {
			return r, fmt.Errorf("aggregate: %w", err)
		}
	}
	if r.Contributions, err = s.Contribute(ctx, slot); err != nil {
		return r, fmt.Errorf("contribute: %w", err)
	}
	return r, nil
}

func (s *Signer) epochOf(slot phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(slot) / s.slotsPerEpoch)
}

// Propose proposes at slot if one of the signer's validators is its proposer.
func (s *Signer) Propose(ctx context.Context, slot phase0.Slot) (proposed, blinded bool, err error) {
	e := s.epochOf(slot)
	duties, ok := s.proposers[e]
	if !ok {
		resp, err := s.Client.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
		if err != nil {
			return false, false, err
		}
		duties = resp.Data
		s.proposers[e] = duties
	}
	var who *apiv1.ProposerDuty
	for _, d := range duties {
		if d.Slot == slot {
			who = d
		}
	}
	if who == nil || !s.active(who.ValidatorIndex) {
		return false, false, nil
	}
	reveal, err := s.sign(ctx, who.ValidatorIndex, uintRoot(uint64(e)), domainRandao, e)
	if err != nil {
		return false, false, err
	}
	resp, err := s.Client.Proposal(ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal, Graffiti: s.Graffiti, BuilderBoostFactor: s.BuilderBoostFactor})
	if err != nil {
		return false, false, err
	}
	p := resp.Data
	var root phase0.Root
	switch {
	case p.Blinded && p.ElectraBlinded != nil:
		root, err = p.ElectraBlinded.HashTreeRoot()
	case p.Blinded && p.FuluBlinded != nil:
		root, err = p.FuluBlinded.HashTreeRoot()
	case p.Electra != nil:
		root, err = p.Electra.Block.HashTreeRoot()
	case p.Fulu != nil:
		root, err = p.Fulu.Block.HashTreeRoot()
	default:
		return false, false, fmt.Errorf("proposal of version %s not handled", p.Version)
	}
	if err != nil {
		return false, false, err
	}
	sig, err := s.sign(ctx, who.ValidatorIndex, root, domainBeaconProposer, e)
	if err != nil {
		return false, false, err
	}
	if p.Blinded {
		sb := &api.VersionedSignedBlindedProposal{Version: p.Version}
		if p.Version == spec.DataVersionFulu {
			sb.Fulu = signedBlinded(p.FuluBlinded, sig)
		} else {
			sb.Electra = signedBlinded(p.ElectraBlinded, sig)
		}
		return true, true, s.Client.SubmitBlindedProposal(ctx, &api.SubmitBlindedProposalOpts{Proposal: sb})
	}
	sp := &api.VersionedSignedProposal{Version: p.Version}
	if p.Version == spec.DataVersionFulu {
		sp.Fulu = fuluContents(p, sig)
	} else {
		sp.Electra = electraContents(p, sig)
	}
	return true, false, s.Client.SubmitProposal(ctx, &api.SubmitProposalOpts{Proposal: sp})
}

// Attest makes the slot's attestations of every committee member of the signer.
func (s *Signer) Attest(ctx context.Context, slot phase0.Slot) (*phase0.AttestationData, int, error) {
	duties, err := s.attesterDuties(ctx, s.epochOf(slot))
	if err != nil {
		return nil, 0, err
	}
	resp, err := s.Client.AttestationData(ctx, &api.AttestationDataOpts{Slot: slot, CommitteeIndex: 0})
	if err != nil {
		return nil, 0, err
	}
	data := resp.Data
	root, err := data.HashTreeRoot()
	if err != nil {
		return nil, 0, err
	}
	var atts []*spec.VersionedAttestation
	for _, d := range duties {
		if d.Slot != slot || !s.active(d.ValidatorIndex) {
			continue
		}
		sig, err := s.sign(ctx, d.ValidatorIndex, root, domainBeaconAttester, data.Target.Epoch)
		if err != nil {
			return nil, 0, err
		}
		bits := bitfield.NewBitlist(d.CommitteeLength)
		bits.SetBitAt(d.ValidatorCommitteeIndex, true)
		cb := bitfield.NewBitvector64()
		cb.SetBitAt(uint64(d.CommitteeIndex), true)
		idx := d.ValidatorIndex
		atts = append(atts, &spec.VersionedAttestation{Version: spec.DataVersionElectra, ValidatorIndex: &idx,
			Electra: &electra.Attestation{AggregationBits: bits, Data: data, Signature: sig, CommitteeBits: cb}})
	}
	if len(atts) == 0 {
		return data, 0, nil
	}
	if v, err := s.versionAt(ctx, slot); err == nil && v == spec.DataVersionFulu {
		for _, a := range atts {
			a.Version, a.Fulu, a.Electra = spec.DataVersionFulu, a.Electra, nil
		}
	}
	return data, len(atts), s.Client.SubmitAttestations(ctx, &api.SubmitAttestationsOpts{Attestations: atts})
}

// versionAt asks the node's fork schedule which fork slot is in.
func (s *Signer) versionAt(ctx context.Context, slot phase0.Slot) (spec.DataVersion, error) {
	resp, err := s.Client.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		return 0, err
	}
	if fe, ok := resp.Data["FULU_FORK_EPOCH"].(uint64); ok && uint64(s.epochOf(slot)) >= fe {
		return spec.DataVersionFulu, nil
	}
	return spec.DataVersionElectra, nil
}

func (s *Signer) attesterDuties(ctx context.Context, e phase0.Epoch) ([]*apiv1.AttesterDuty, error) {
	if d, ok := s.attesters[e]; ok {
		return d, nil
	}
	resp, err := s.Client.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: s.indices()})
	if err != nil {
		return nil, err
	}
	s.attesters[e] = resp.Data
	return resp.Data, nil
}

// isAggregator is the spec's is_aggregator (validator.md), written here independently.
func isAggregator(committeeLen uint64, proof phase0.BLSSignature) bool {
	modulo := committeeLen / 16 // TARGET_AGGREGATORS_PER_COMMITTEE
	if modulo < 1 {
		modulo = 1
	}
	h := sha256.Sum256(proof[:])
	return binary.LittleEndian.Uint64(h[:8])%modulo == 0
}

// Aggregate publishes aggregates for the committees of slot where one of the signer's validators
// is selected.
func (s *Signer) Aggregate(ctx context.Context, slot phase0.Slot, data *phase0.AttestationData) (int, error) {
	duties, err := s.attesterDuties(ctx, s.epochOf(slot))
	if err != nil {
		return 0, err
	}
	dataRoot, err := data.HashTreeRoot()
	if err != nil {
		return 0, err
	}
	var out []*spec.VersionedSignedAggregateAndProof
	done := map[phase0.CommitteeIndex]bool{}
	for _, d := range duties {
		if d.Slot != slot || !s.active(d.ValidatorIndex) || done[d.CommitteeIndex] {
			continue
		}
		proof, err := s.sign(ctx, d.ValidatorIndex, uintRoot(uint64(slot)), domainSelectionProof, s.epochOf(slot))
		if err != nil {
			return 0, err
		}
		if !isAggregator(d.CommitteeLength, proof) {
			continue
		}
		resp, err := s.Client.AggregateAttestation(ctx, &api.AggregateAttestationOpts{Slot: slot, AttestationDataRoot: dataRoot, CommitteeIndex: d.CommitteeIndex})
		if err != nil {
			return 0, fmt.Errorf("aggregate of committee %d: %w", d.CommitteeIndex, err)
		}
		agg := resp.Data.Electra
		if agg == nil {
			agg = resp.Data.Fulu
		}
		msg := &electra.AggregateAndProof{AggregatorIndex: d.ValidatorIndex, Aggregate: agg, SelectionProof: proof}
		mr, err := msg.HashTreeRoot()
		if err != nil {
			return 0, err
		}
		sig, err := s.sign(ctx, d.ValidatorIndex, mr, domainAggregateAndProof, s.epochOf(slot))
		if err != nil {
			return 0, err
		}
		done[d.CommitteeIndex] = true
		v := &spec.VersionedSignedAggregateAndProof{Version: resp.Data.Version}
		if resp.Data.Version == spec.DataVersionFulu {
			v.Fulu = &electra.SignedAggregateAndProof{Message: msg, Signature: sig}
		} else {
			v.Electra = &electra.SignedAggregateAndProof{Message: msg, Signature: sig}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return 0, nil
	}
	return len(out), s.Client.SubmitAggregateAttestations(ctx, &api.SubmitAggregateAttestationsOpts{SignedAggregateAndProofs: out})
}

func (s *Signer) syncDuties(ctx context.Context, e phase0.Epoch) ([]*apiv1.SyncCommitteeDuty, error) {
	if d, ok := s.sync[e]; ok {
		return d, nil
	}
	resp, err := s.Client.SyncCommitteeDuties(ctx, &api.SyncCommitteeDutiesOpts{Epoch: e, Indices: s.indices()})
	if err != nil {
		return nil, err
	}
	s.sync[e] = resp.Data
	return resp.Data, nil
}

// SyncMessages signs the head block root for every sync-committee member of the signer (the
// committee of the epoch of slot+1, as get_sync_subcommittee_pubkeys defines).
func (s *Signer) SyncMessages(ctx context.Context, slot phase0.Slot) (int, error) {
	duties, err := s.syncDuties(ctx, s.epochOf(slot+1))
	if err != nil {
		return 0, err
	}
	root, err := s.Client.BeaconBlockRoot(ctx, &api.BeaconBlockRootOpts{Block: "head"})
	if err != nil {
		return 0, err
	}
	var msgs []*altair.SyncCommitteeMessage
	for _, d := range duties {
		if !s.active(d.ValidatorIndex) {
			continue
		}
		sig, err := s.sign(ctx, d.ValidatorIndex, *root.Data, domainSyncCommittee, s.epochOf(slot))
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, &altair.SyncCommitteeMessage{Slot: slot, BeaconBlockRoot: *root.Data, ValidatorIndex: d.ValidatorIndex, Signature: sig})
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	return len(msgs), s.Client.SubmitSyncCommitteeMessages(ctx, msgs)
}

// isSyncAggregator is is_sync_committee_aggregator (altair validator.md), written independently.
func isSyncAggregator(proof phase0.BLSSignature) bool {
	// SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT / TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE
	modulo := uint64(512 / 4 / 16)
	h := sha256.Sum256(proof[:])
	return binary.LittleEndian.Uint64(h[:8])%modulo == 0
}

// Contribute publishes sync-committee contributions where a member of the signer is selected.
func (s *Signer) Contribute(ctx context.Context, slot phase0.Slot) (int, error) {
	duties, err := s.syncDuties(ctx, s.epochOf(slot+1))
	if err != nil {
		return 0, err
	}
	root, err := s.Client.BeaconBlockRoot(ctx, &api.BeaconBlockRootOpts{Block: "head"})
	if err != nil {
		return 0, err
	}
	var out []*altair.SignedContributionAndProof
	done := map[uint64]bool{}
	for _, d := range duties {
		if !s.active(d.ValidatorIndex) {
			continue
		}
		for _, pos := range d.ValidatorSyncCommitteeIndices {
			sub := uint64(pos) / 128
			if done[sub] {
				continue
			}
			sel := &altair.SyncAggregatorSelectionData{Slot: slot, SubcommitteeIndex: sub}
			sr, err := sel.HashTreeRoot()
			if err != nil {
				return 0, err
			}
			proof, err := s.sign(ctx, d.ValidatorIndex, sr, domainSyncSelectionProof, s.epochOf(slot))
			if err != nil {
				return 0, err
			}
			if !isSyncAggregator(proof) {
				continue
			}
			resp, err := s.Client.SyncCommitteeContribution(ctx, &api.SyncCommitteeContributionOpts{Slot: slot, SubcommitteeIndex: sub, BeaconBlockRoot: *root.Data})
			if err != nil {
				return 0, fmt.Errorf("contribution of subcommittee %d: %w", sub, err)
			}
			msg := &altair.ContributionAndProof{AggregatorIndex: d.ValidatorIndex, Contribution: resp.Data, SelectionProof: proof}
			mr, err := msg.HashTreeRoot()
			if err != nil {
				return 0, err
			}
			sig, err := s.sign(ctx, d.ValidatorIndex, mr, domainContributionAndProof, s.epochOf(slot))
			if err != nil {
				return 0, err
			}
			done[sub] = true
			out = append(out, &altair.SignedContributionAndProof{Message: msg, Signature: sig})
		}
	}
	if len(out) == 0 {
		return 0, nil
	}
	return len(out), s.Client.SubmitSyncCommitteeContributions(ctx, out)
}
