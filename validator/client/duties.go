package client

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// attesterDuty is an attester duty with its aggregation selection proof.
type attesterDuty struct {
	*apiv1.AttesterDuty
	selectionProof phase0.BLSSignature
	aggregator     bool
}

// epochDuties are one epoch's duties of this client's validators.
type epochDuties struct {
	proposers   map[phase0.Slot]*apiv1.ProposerDuty
	attesters   map[phase0.Slot][]*attesterDuty
	sync        []*apiv1.SyncCommitteeDuty
	proposerDep phase0.Root
	attesterDep phase0.Root
}

// dutiesFor returns the duties of epoch e, fetching them if they are not held.
func (s *Service) dutiesFor(ctx context.Context, e phase0.Epoch) (*epochDuties, error) {
	s.mu.Lock()
	d := s.duties[e]
	s.mu.Unlock()
	if d != nil {
		return d, nil
	}
	return s.fetchDuties(ctx, e)
}

func dependentRoot(md map[string]any) phase0.Root {
	r, _ := md["dependent_root"].(phase0.Root)
	return r
}

// fetchDuties asks the beacon node for epoch e's proposer, attester and sync-committee duties,
// computes the aggregation selection proofs, subscribes the beacon node to the committees, and
// keeps the result.
func (s *Service) fetchDuties(ctx context.Context, e phase0.Epoch) (*epochDuties, error) {
	d := &epochDuties{proposers: map[phase0.Slot]*apiv1.ProposerDuty{}, attesters: map[phase0.Slot][]*attesterDuty{}}
	vals, indices := s.validatorSet()
	pr, err := s.bn.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
	if err != nil {
		return nil, fmt.Errorf("proposer duties: %w", err)
	}
	d.proposerDep = dependentRoot(pr.Metadata)
	for _, p := range pr.Data {
		if pk, ok := vals[p.ValidatorIndex]; ok && pk == p.PubKey && p.Slot > 0 { // slot 0 holds the genesis block
			d.proposers[p.Slot] = p
		}
	}
	ar, err := s.bn.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: indices})
	if err != nil {
		return nil, fmt.Errorf("attester duties: %w", err)
	}
	d.attesterDep = dependentRoot(ar.Metadata)
	var subs []*apiv1.BeaconCommitteeSubscription
	for _, a := range ar.Data {
		pk, ok := vals[a.ValidatorIndex]
		if !ok || pk != a.PubKey || s.net.EpochOf(a.Slot) != e || !s.sig.Has(pk) {
			s.log.Warn("attester duty not for this client or epoch: ignored", "validator_index", a.ValidatorIndex, "slot", a.Slot)
			continue
		}
		d.attesters[a.Slot] = append(d.attesters[a.Slot], &attesterDuty{AttesterDuty: a})
	}
	// Selection proofs, a slot at a time: the validators of a slot sign one root.
	for slot, ads := range d.attesters {
		pks := make([]phase0.BLSPubKey, len(ads))
		for i, ad := range ads {
			pks[i] = ad.PubKey
		}
		proofs, err := s.sig.SignSelectionProofs(slot, pks)
		if err != nil {
			return nil, err
		}
		for i, ad := range ads {
			ad.selectionProof = proofs[i]
			ad.aggregator = isAggregator(ad.CommitteeLength, s.spec.targetAggregators, proofs[i])
			subs = append(subs, &apiv1.BeaconCommitteeSubscription{ValidatorIndex: ad.ValidatorIndex, Slot: ad.Slot,
				CommitteeIndex: ad.CommitteeIndex, CommitteesAtSlot: ad.CommitteesAtSlot, IsAggregator: ad.aggregator})
		}
	}
	sr, err := s.bn.SyncCommitteeDuties(ctx, &api.SyncCommitteeDutiesOpts{Epoch: e, Indices: indices})
	if err != nil {
		return nil, fmt.Errorf("sync committee duties: %w", err)
	}
	var syncSubs []*apiv1.SyncCommitteeSubscription
	period := uint64(e) / s.spec.epochsPerSyncCommittee
	for _, sd := range sr.Data {
		if pk, ok := vals[sd.ValidatorIndex]; ok && pk == sd.PubKey {
			d.sync = append(d.sync, sd)
			syncSubs = append(syncSubs, &apiv1.SyncCommitteeSubscription{ValidatorIndex: sd.ValidatorIndex,
				SyncCommitteeIndices: sd.ValidatorSyncCommitteeIndices, UntilEpoch: phase0.Epoch((period + 1) * s.spec.epochsPerSyncCommittee)})
		}
	}
	// Subscriptions let a beacon node with a peer-to-peer network join the subnets the duties
	// need; a failure costs aggregation quality, not the duties, so it is only logged.
	if len(subs) > 0 {
		if err := s.bn.SubmitBeaconCommitteeSubscriptions(ctx, subs); err != nil {
			s.log.Warn("beacon committee subscriptions", "epoch", e, "error", err)
		}
	}
	if len(syncSubs) > 0 {
		if err := s.bn.SubmitSyncCommitteeSubscriptions(ctx, syncSubs); err != nil {
			s.log.Warn("sync committee subscriptions", "epoch", e, "error", err)
		}
	}
	s.mu.Lock()
	s.duties[e] = d
	st := s.statsLocked(e)
	st.setExpected(len(d.proposers), len(ar.Data), len(d.sync)*int(s.spec.slotsPerEpoch))
	s.mu.Unlock()
	s.log.Debug("duties", "epoch", e, "proposals", len(d.proposers), "attestations", len(ar.Data), "sync_committee", len(d.sync),
		"dependent_root", fmt.Sprintf("%#x", d.attesterDep))
	return d, nil
}

// isAggregator is is_aggregator (phase0 validator.md, "Aggregation selection").
func isAggregator(committeeLength, target uint64, proof phase0.BLSSignature) bool {
	modulo := max(1, committeeLength/target)
	h := sha256.Sum256(proof[:])
	return binary.LittleEndian.Uint64(h[:8])%modulo == 0
}

// isSyncAggregator is is_sync_committee_aggregator (altair validator.md).
func (s *Service) isSyncAggregator(proof phase0.BLSSignature) bool {
	modulo := max(1, s.spec.syncCommitteeSize/s.spec.syncSubnets/s.spec.targetSyncAggregators)
	h := sha256.Sum256(proof[:])
	return binary.LittleEndian.Uint64(h[:8])%modulo == 0
}
