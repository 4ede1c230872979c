package signer

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// Domain types (phase0 and altair beacon-chain.md "Domain types"; builder-specs
// "Domain types").
var (
	DomainBeaconProposer              = phase0.DomainType{0x00, 0x00, 0x00, 0x00}
	DomainBeaconAttester              = phase0.DomainType{0x01, 0x00, 0x00, 0x00}
	DomainRandao                      = phase0.DomainType{0x02, 0x00, 0x00, 0x00}
	DomainDeposit                     = phase0.DomainType{0x03, 0x00, 0x00, 0x00}
	DomainVoluntaryExit               = phase0.DomainType{0x04, 0x00, 0x00, 0x00}
	DomainSelectionProof              = phase0.DomainType{0x05, 0x00, 0x00, 0x00}
	DomainAggregateAndProof           = phase0.DomainType{0x06, 0x00, 0x00, 0x00}
	DomainSyncCommittee               = phase0.DomainType{0x07, 0x00, 0x00, 0x00}
	DomainSyncCommitteeSelectionProof = phase0.DomainType{0x08, 0x00, 0x00, 0x00}
	DomainContributionAndProof        = phase0.DomainType{0x09, 0x00, 0x00, 0x00}
	DomainApplicationBuilder          = phase0.DomainType{0x00, 0x00, 0x00, 0x01}
)

// Fork is one entry of a network's fork schedule: the version in force from Epoch on.
type Fork struct {
	Epoch   phase0.Epoch
	Version phase0.Version
}

// Network is what signing needs to know of a network: its genesis validators root, its fork
// schedule and SLOTS_PER_EPOCH. Build it with NewNetwork; its methods are safe for concurrent use
// (it is never modified).
type Network struct {
	gvr            phase0.Root
	genesisVersion phase0.Version
	capellaVersion phase0.Version
	slotsPerEpoch  uint64
	forks          []Fork // ascending by epoch, forks[0].Epoch == 0
	domains        map[domainKey]phase0.Domain
}

type domainKey struct {
	dt      phase0.DomainType
	version phase0.Version
}

// NetworkConfig describes a network, as a beacon node reports it (config/spec, genesis,
// fork_schedule).
type NetworkConfig struct {
	GenesisValidatorsRoot phase0.Root
	// GenesisForkVersion is GENESIS_FORK_VERSION (the builder domain uses it).
	GenesisForkVersion phase0.Version
	// CapellaForkVersion is CAPELLA_FORK_VERSION (voluntary exits use it, EIP-7044).
	CapellaForkVersion phase0.Version
	SlotsPerEpoch      uint64
	// Forks is the fork schedule in the beacon node's order (fork_schedule lists forks in the
	// order they happen); one must start at epoch 0. Of several forks at one epoch (a devnet that
	// starts at Electra lists every earlier fork at epoch 0), the last listed is in force.
	Forks []Fork
}

// NewNetwork checks cfg and precomputes the domains of every fork.
func NewNetwork(cfg NetworkConfig) (*Network, error) {
	if cfg.SlotsPerEpoch == 0 {
		return nil, errors.New("signer: SLOTS_PER_EPOCH is zero")
	}
	if len(cfg.Forks) == 0 {
		return nil, errors.New("signer: empty fork schedule")
	}
	forks := append([]Fork(nil), cfg.Forks...)
	sort.SliceStable(forks, func(i, j int) bool { return forks[i].Epoch < forks[j].Epoch })
	if forks[0].Epoch != 0 {
		return nil, fmt.Errorf("signer: fork schedule starts at epoch %d, want a fork at epoch 0", forks[0].Epoch)
	}
	n := &Network{gvr: cfg.GenesisValidatorsRoot, genesisVersion: cfg.GenesisForkVersion,
		capellaVersion: cfg.CapellaForkVersion, slotsPerEpoch: cfg.SlotsPerEpoch, forks: forks,
		domains: map[domainKey]phase0.Domain{}}
	types := []phase0.DomainType{DomainBeaconProposer, DomainBeaconAttester, DomainRandao, DomainDeposit,
		DomainVoluntaryExit, DomainSelectionProof, DomainAggregateAndProof, DomainSyncCommittee,
		DomainSyncCommitteeSelectionProof, DomainContributionAndProof}
	for _, f := range forks {
		for _, dt := range types {
			n.domains[domainKey{dt, f.Version}] = ComputeDomain(dt, f.Version, n.gvr)
		}
	}
	return n, nil
}

// GenesisValidatorsRoot of the network.
func (n *Network) GenesisValidatorsRoot() phase0.Root { return n.gvr }

// SlotsPerEpoch of the network.
func (n *Network) SlotsPerEpoch() uint64 { return n.slotsPerEpoch }

// EpochOf is compute_epoch_at_slot.
func (n *Network) EpochOf(slot phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(slot) / n.slotsPerEpoch)
}

// ForkVersion is the fork version in force at epoch.
func (n *Network) ForkVersion(epoch phase0.Epoch) phase0.Version {
	v := n.forks[0].Version
	for _, f := range n.forks {
		if f.Epoch > epoch {
			break
		}
		v = f.Version
	}
	return v
}

// Domain is get_domain for a message of epoch: the domain type under the fork version in force
// at epoch and the network's genesis validators root.
func (n *Network) Domain(dt phase0.DomainType, epoch phase0.Epoch) phase0.Domain {
	v := n.ForkVersion(epoch)
	if d, ok := n.domains[domainKey{dt, v}]; ok {
		return d
	}
	return ComputeDomain(dt, v, n.gvr)
}

// VoluntaryExitDomain is the domain of every voluntary exit from Deneb on: DOMAIN_VOLUNTARY_EXIT
// under CAPELLA_FORK_VERSION (EIP-7044), so that a signed exit never expires.
func (n *Network) VoluntaryExitDomain() phase0.Domain {
	return ComputeDomain(DomainVoluntaryExit, n.capellaVersion, n.gvr)
}

// BuilderDomain is compute_domain(DOMAIN_APPLICATION_BUILDER, GENESIS_FORK_VERSION, zero root)
// (builder-specs, "Signing").
func (n *Network) BuilderDomain() phase0.Domain {
	return ComputeDomain(DomainApplicationBuilder, n.genesisVersion, phase0.Root{})
}

// ComputeForkDataRoot is compute_fork_data_root: hash_tree_root(ForkData(version, gvr)), a
// two-field container, so the hash of the two 32-byte chunks.
func ComputeForkDataRoot(version phase0.Version, gvr phase0.Root) phase0.Root {
	var buf [64]byte
	copy(buf[:4], version[:])
	copy(buf[32:], gvr[:])
	return sha256.Sum256(buf[:])
}

// ComputeDomain is compute_domain: the domain type followed by the first 28 bytes of the fork
// data root.
func ComputeDomain(dt phase0.DomainType, version phase0.Version, gvr phase0.Root) phase0.Domain {
	var d phase0.Domain
	copy(d[:4], dt[:])
	r := ComputeForkDataRoot(version, gvr)
	copy(d[4:], r[:28])
	return d
}

// SigningRoot is compute_signing_root: hash_tree_root(SigningData(object_root, domain)).
func SigningRoot(objectRoot phase0.Root, domain phase0.Domain) phase0.Root {
	var buf [64]byte
	copy(buf[:32], objectRoot[:])
	copy(buf[32:], domain[:])
	return sha256.Sum256(buf[:])
}

// uint64Root is hash_tree_root(uint64): the value little-endian in a zero-padded chunk.
func uint64Root(v uint64) phase0.Root {
	var r phase0.Root
	binary.LittleEndian.PutUint64(r[:8], v)
	return r
}

// BlockSigningRoot is the signing root of a block (or blinded block: both have the same
// hash_tree_root) of slot whose hash_tree_root is blockRoot (phase0 validator.md
// "get_block_signature").
func (n *Network) BlockSigningRoot(slot phase0.Slot, blockRoot phase0.Root) phase0.Root {
	return SigningRoot(blockRoot, n.Domain(DomainBeaconProposer, n.EpochOf(slot)))
}

// RandaoSigningRoot is the signing root of the RANDAO reveal of epoch
// ("get_epoch_signature").
func (n *Network) RandaoSigningRoot(epoch phase0.Epoch) phase0.Root {
	return SigningRoot(uint64Root(uint64(epoch)), n.Domain(DomainRandao, epoch))
}

// AttestationSigningRoot is the signing root of attestation data, under the fork of its target
// epoch ("get_attestation_signature").
func (n *Network) AttestationSigningRoot(data *phase0.AttestationData) (phase0.Root, error) {
	if data == nil || data.Source == nil || data.Target == nil {
		return phase0.Root{}, errors.New("signer: attestation data without source or target")
	}
	r, err := data.HashTreeRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("signer: attestation data root: %w", err)
	}
	return SigningRoot(r, n.Domain(DomainBeaconAttester, data.Target.Epoch)), nil
}

// SelectionProofSigningRoot is the signing root of an aggregation selection proof for slot
// ("get_slot_signature").
func (n *Network) SelectionProofSigningRoot(slot phase0.Slot) phase0.Root {
	return SigningRoot(uint64Root(uint64(slot)), n.Domain(DomainSelectionProof, n.EpochOf(slot)))
}

// AggregateAndProofSigningRoot is the signing root of an AggregateAndProof whose aggregate is of
// slot and whose hash_tree_root is msgRoot ("get_aggregate_and_proof_signature"; the message
// type changed in Electra, its root is the caller's).
func (n *Network) AggregateAndProofSigningRoot(slot phase0.Slot, msgRoot phase0.Root) phase0.Root {
	return SigningRoot(msgRoot, n.Domain(DomainAggregateAndProof, n.EpochOf(slot)))
}

// SyncCommitteeMessageSigningRoot is the signing root of a sync-committee message of slot for
// blockRoot (altair validator.md "get_sync_committee_message": the object is the block root).
func (n *Network) SyncCommitteeMessageSigningRoot(slot phase0.Slot, blockRoot phase0.Root) phase0.Root {
	return SigningRoot(blockRoot, n.Domain(DomainSyncCommittee, n.EpochOf(slot)))
}

// SyncSelectionSigningRoot is the signing root of SyncAggregatorSelectionData(slot, subcommittee)
// ("get_sync_committee_selection_proof").
func (n *Network) SyncSelectionSigningRoot(slot phase0.Slot, subcommittee uint64) (phase0.Root, error) {
	r, err := (&altair.SyncAggregatorSelectionData{Slot: slot, SubcommitteeIndex: subcommittee}).HashTreeRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("signer: selection data root: %w", err)
	}
	return SigningRoot(r, n.Domain(DomainSyncCommitteeSelectionProof, n.EpochOf(slot))), nil
}

// ContributionAndProofSigningRoot is the signing root of a ContributionAndProof
// ("get_contribution_and_proof_signature": the epoch of the contribution's slot).
func (n *Network) ContributionAndProofSigningRoot(msg *altair.ContributionAndProof) (phase0.Root, error) {
	if msg == nil || msg.Contribution == nil {
		return phase0.Root{}, errors.New("signer: contribution and proof without a contribution")
	}
	r, err := msg.HashTreeRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("signer: contribution and proof root: %w", err)
	}
	return SigningRoot(r, n.Domain(DomainContributionAndProof, n.EpochOf(msg.Contribution.Slot))), nil
}

// VoluntaryExitSigningRoot is the signing root of a voluntary exit, under the Capella fork
// version (EIP-7044).
func (n *Network) VoluntaryExitSigningRoot(exit *phase0.VoluntaryExit) (phase0.Root, error) {
	if exit == nil {
		return phase0.Root{}, errors.New("signer: no voluntary exit")
	}
	r, err := exit.HashTreeRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("signer: voluntary exit root: %w", err)
	}
	return SigningRoot(r, n.VoluntaryExitDomain()), nil
}

// RegistrationSigningRoot is the signing root of a builder-API validator registration.
func (n *Network) RegistrationSigningRoot(reg *apiv1.ValidatorRegistration) (phase0.Root, error) {
	if reg == nil {
		return phase0.Root{}, errors.New("signer: no validator registration")
	}
	r, err := reg.HashTreeRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("signer: registration root: %w", err)
	}
	return SigningRoot(r, n.BuilderDomain()), nil
}
