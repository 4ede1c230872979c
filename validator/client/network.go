package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/signer"
)

// chainSpec holds the config/spec values the duties use.
type chainSpec struct {
	slotsPerEpoch          uint64
	slotDuration           time.Duration
	electraEpoch           phase0.Epoch
	fuluEpoch              phase0.Epoch
	syncCommitteeSize      uint64
	syncSubnets            uint64
	targetAggregators      uint64 // TARGET_AGGREGATORS_PER_COMMITTEE
	targetSyncAggregators  uint64 // TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE
	epochsPerSyncCommittee uint64
}

func specUint(m map[string]any, key string) (uint64, error) {
	v, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("config/spec has no %s", key)
	}
	u, ok := v.(uint64)
	if !ok {
		return 0, fmt.Errorf("config/spec %s is %T, want an integer", key, v)
	}
	return u, nil
}

func specVersion(m map[string]any, key string) (phase0.Version, error) {
	v, ok := m[key].(phase0.Version)
	if !ok {
		return phase0.Version{}, fmt.Errorf("config/spec has no fork version %s", key)
	}
	return v, nil
}

// learnNetwork reads config/spec, genesis and fork_schedule from the beacon node: the same binary
// runs on mainnet, a testnet or a devnet with the minimal preset.
func (s *Service) learnNetwork(ctx context.Context) error {
	sr, err := s.bn.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		return fmt.Errorf("config/spec: %w", err)
	}
	m := sr.Data
	var cs chainSpec
	for key, dst := range map[string]*uint64{
		"SLOTS_PER_EPOCH": &cs.slotsPerEpoch, "SYNC_COMMITTEE_SIZE": &cs.syncCommitteeSize,
		"SYNC_COMMITTEE_SUBNET_COUNT": &cs.syncSubnets, "TARGET_AGGREGATORS_PER_COMMITTEE": &cs.targetAggregators,
		"TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE": &cs.targetSyncAggregators,
		"EPOCHS_PER_SYNC_COMMITTEE_PERIOD":         &cs.epochsPerSyncCommittee,
	} {
		if *dst, err = specUint(m, key); err != nil {
			return err
		}
		if *dst == 0 {
			return fmt.Errorf("config/spec %s is zero", key)
		}
	}
	if cs.syncCommitteeSize%cs.syncSubnets != 0 {
		return fmt.Errorf("config/spec SYNC_COMMITTEE_SIZE %d is not a multiple of SYNC_COMMITTEE_SUBNET_COUNT %d", cs.syncCommitteeSize, cs.syncSubnets)
	}
	d, ok := m["SECONDS_PER_SLOT"].(time.Duration)
	if !ok || d <= 0 {
		return errors.New("config/spec has no SECONDS_PER_SLOT")
	}
	cs.slotDuration = d
	e, err := specUint(m, "ELECTRA_FORK_EPOCH")
	if err != nil {
		return fmt.Errorf("%w (zkv validates from Electra on)", err)
	}
	cs.electraEpoch = phase0.Epoch(e)
	cs.fuluEpoch = phase0.Epoch(1<<64 - 1)
	if f, err := specUint(m, "FULU_FORK_EPOCH"); err == nil {
		cs.fuluEpoch = phase0.Epoch(f)
	}
	genesisVersion, err := specVersion(m, "GENESIS_FORK_VERSION")
	if err != nil {
		return err
	}
	capella, err := specVersion(m, "CAPELLA_FORK_VERSION")
	if err != nil {
		return err
	}

	gr, err := s.bn.Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	if gr.Data.GenesisForkVersion != genesisVersion {
		return fmt.Errorf("genesis fork version %#x differs from config/spec's %#x", gr.Data.GenesisForkVersion, genesisVersion)
	}
	fr, err := s.bn.ForkSchedule(ctx, &api.ForkScheduleOpts{})
	if err != nil {
		return fmt.Errorf("fork_schedule: %w", err)
	}
	var forks []signer.Fork
	for _, f := range fr.Data {
		forks = append(forks, signer.Fork{Epoch: f.Epoch, Version: f.CurrentVersion})
	}
	net, err := signer.NewNetwork(signer.NetworkConfig{GenesisValidatorsRoot: gr.Data.GenesisValidatorsRoot,
		GenesisForkVersion: genesisVersion, CapellaForkVersion: capella, SlotsPerEpoch: cs.slotsPerEpoch, Forks: forks})
	if err != nil {
		return err
	}
	s.spec, s.net, s.genesis = cs, net, gr.Data.GenesisTime
	s.log.Info("network", "genesis_time", s.genesis.UTC(), "genesis_validators_root", fmt.Sprintf("%#x", gr.Data.GenesisValidatorsRoot),
		"slots_per_epoch", cs.slotsPerEpoch, "seconds_per_slot", cs.slotDuration.Seconds(), "forks", len(forks),
		"electra_epoch", cs.electraEpoch)
	return nil
}

// version is the consensus fork of epoch, for the message containers that changed in Electra.
func (s *Service) version(e phase0.Epoch) (spec.DataVersion, error) {
	switch {
	case e >= s.spec.fuluEpoch:
		return spec.DataVersionFulu, nil
	case e >= s.spec.electraEpoch:
		return spec.DataVersionElectra, nil
	}
	return spec.DataVersionUnknown, fmt.Errorf("epoch %d is before Electra (epoch %d): zkv validates from Electra on", e, s.spec.electraEpoch)
}

func (s *Service) slotStart(slot phase0.Slot) time.Time {
	return s.genesis.Add(time.Duration(slot) * s.spec.slotDuration)
}

// currentSlot is the wall-clock slot (0 before genesis).
func (s *Service) currentSlot() phase0.Slot {
	d := s.o.now().Sub(s.genesis)
	if d < 0 {
		return 0
	}
	return phase0.Slot(d / s.spec.slotDuration)
}

// waitUntil returns true at t, false when ctx ends first.
func (s *Service) waitUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(s.o.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
