package consensus

import "strconv"

// Preset holds the values of one consensus-specs preset (presets/<name>/*.yaml for phase0
// through Fulu) plus the validator.md and p2p constants a beacon node reports beside them in
// GET /eth/v1/config/spec. Amounts are in gwei. A Preset is a plain value: copy and adjust it
// for a devnet that needs other numbers.
type Preset struct {
	// Name is "mainnet" or "minimal" (PRESET_BASE).
	Name string

	// presets/<name>/phase0.yaml
	MaxCommitteesPerSlot           uint64
	TargetCommitteeSize            uint64
	MaxValidatorsPerCommittee      uint64
	ShuffleRoundCount              uint8
	HysteresisQuotient             uint64
	HysteresisDownwardMultiplier   uint64
	HysteresisUpwardMultiplier     uint64
	MinDepositAmount               uint64
	MaxEffectiveBalance            uint64
	EffectiveBalanceIncrement      uint64
	MinAttestationInclusionDelay   uint64
	SlotsPerEpoch                  uint64
	MinSeedLookahead               uint64
	MaxSeedLookahead               uint64
	EpochsPerEth1VotingPeriod      uint64
	SlotsPerHistoricalRoot         uint64
	MinEpochsToInactivityPenalty   uint64
	EpochsPerHistoricalVector      uint64
	EpochsPerSlashingsVector       uint64
	HistoricalRootsLimit           uint64
	ValidatorRegistryLimit         uint64
	BaseRewardFactor               uint64
	WhistleblowerRewardQuotient    uint64
	ProposerRewardQuotient         uint64
	InactivityPenaltyQuotient      uint64
	MinSlashingPenaltyQuotient     uint64
	ProportionalSlashingMultiplier uint64
	MaxProposerSlashings           uint64
	MaxAttesterSlashings           uint64
	MaxAttestations                uint64
	MaxDeposits                    uint64
	MaxVoluntaryExits              uint64

	// presets/<name>/altair.yaml
	InactivityPenaltyQuotientAltair      uint64
	MinSlashingPenaltyQuotientAltair     uint64
	ProportionalSlashingMultiplierAltair uint64
	SyncCommitteeSize                    uint64
	EpochsPerSyncCommitteePeriod         uint64
	MinSyncCommitteeParticipants         uint64
	UpdateTimeout                        uint64

	// presets/<name>/bellatrix.yaml
	InactivityPenaltyQuotientBellatrix      uint64
	MinSlashingPenaltyQuotientBellatrix     uint64
	ProportionalSlashingMultiplierBellatrix uint64
	MaxBytesPerTransaction                  uint64
	MaxTransactionsPerPayload               uint64
	BytesPerLogsBloom                       uint64
	MaxExtraDataBytes                       uint64

	// presets/<name>/capella.yaml
	MaxBLSToExecutionChanges         uint64
	MaxWithdrawalsPerPayload         uint64
	MaxValidatorsPerWithdrawalsSweep uint64

	// presets/<name>/deneb.yaml
	MaxBlobCommitmentsPerBlock       uint64
	KZGCommitmentInclusionProofDepth uint64
	FieldElementsPerBlob             uint64

	// presets/<name>/electra.yaml
	MinActivationBalance                  uint64
	MaxEffectiveBalanceElectra            uint64
	MinSlashingPenaltyQuotientElectra     uint64
	WhistleblowerRewardQuotientElectra    uint64
	PendingDepositsLimit                  uint64
	PendingPartialWithdrawalsLimit        uint64
	PendingConsolidationsLimit            uint64
	MaxAttesterSlashingsElectra           uint64
	MaxAttestationsElectra                uint64
	MaxDepositRequestsPerPayload          uint64
	MaxWithdrawalRequestsPerPayload       uint64
	MaxConsolidationRequestsPerPayload    uint64
	MaxPendingPartialsPerWithdrawalsSweep uint64
	MaxPendingDepositsPerEpoch            uint64

	// presets/<name>/fulu.yaml
	KZGCommitmentsInclusionProofDepth uint64
	FieldElementsPerCell              uint64
	FieldElementsPerExtBlob           uint64
	CellsPerExtBlob                   uint64
	NumberOfColumns                   uint64

	// Constants of validator.md and p2p-interface.md that GET /eth/v1/config/spec reports too.
	SyncCommitteeSubnetCount             uint64
	TargetAggregatorsPerCommittee        uint64
	TargetAggregatorsPerSyncSubcommittee uint64
	AttestationSubnetCount               uint64
}

// Mainnet is the consensus-specs "mainnet" preset (presets/mainnet/{phase0,...,fulu}.yaml).
var Mainnet = Preset{
	Name:                                    "mainnet",
	MaxCommitteesPerSlot:                    64,
	TargetCommitteeSize:                     128,
	MaxValidatorsPerCommittee:               2048,
	ShuffleRoundCount:                       90,
	HysteresisQuotient:                      4,
	HysteresisDownwardMultiplier:            1,
	HysteresisUpwardMultiplier:              5,
	MinDepositAmount:                        1000000000,
	MaxEffectiveBalance:                     32000000000,
	EffectiveBalanceIncrement:               1000000000,
	MinAttestationInclusionDelay:            1,
	SlotsPerEpoch:                           32,
	MinSeedLookahead:                        1,
	MaxSeedLookahead:                        4,
	EpochsPerEth1VotingPeriod:               64,
	SlotsPerHistoricalRoot:                  8192,
	MinEpochsToInactivityPenalty:            4,
	EpochsPerHistoricalVector:               65536,
	EpochsPerSlashingsVector:                8192,
	HistoricalRootsLimit:                    16777216,
	ValidatorRegistryLimit:                  1099511627776,
	BaseRewardFactor:                        64,
	WhistleblowerRewardQuotient:             512,
	ProposerRewardQuotient:                  8,
	InactivityPenaltyQuotient:               67108864,
	MinSlashingPenaltyQuotient:              128,
	ProportionalSlashingMultiplier:          1,
	MaxProposerSlashings:                    16,
	MaxAttesterSlashings:                    2,
	MaxAttestations:                         128,
	MaxDeposits:                             16,
	MaxVoluntaryExits:                       16,
	InactivityPenaltyQuotientAltair:         50331648,
	MinSlashingPenaltyQuotientAltair:        64,
	ProportionalSlashingMultiplierAltair:    2,
	SyncCommitteeSize:                       512,
	EpochsPerSyncCommitteePeriod:            256,
	MinSyncCommitteeParticipants:            1,
	UpdateTimeout:                           8192,
	InactivityPenaltyQuotientBellatrix:      16777216,
	MinSlashingPenaltyQuotientBellatrix:     32,
	ProportionalSlashingMultiplierBellatrix: 3,
	MaxBytesPerTransaction:                  1073741824,
	MaxTransactionsPerPayload:               1048576,
	BytesPerLogsBloom:                       256,
	MaxExtraDataBytes:                       32,
	MaxBLSToExecutionChanges:                16,
	MaxWithdrawalsPerPayload:                16,
	MaxValidatorsPerWithdrawalsSweep:        16384,
	MaxBlobCommitmentsPerBlock:              4096,
	KZGCommitmentInclusionProofDepth:        17,
	FieldElementsPerBlob:                    4096,
	MinActivationBalance:                    32000000000,
	MaxEffectiveBalanceElectra:              2048000000000,
	MinSlashingPenaltyQuotientElectra:       4096,
	WhistleblowerRewardQuotientElectra:      4096,
	PendingDepositsLimit:                    134217728,
	PendingPartialWithdrawalsLimit:          134217728,
	PendingConsolidationsLimit:              262144,
	MaxAttesterSlashingsElectra:             1,
	MaxAttestationsElectra:                  8,
	MaxDepositRequestsPerPayload:            8192,
	MaxWithdrawalRequestsPerPayload:         16,
	MaxConsolidationRequestsPerPayload:      2,
	MaxPendingPartialsPerWithdrawalsSweep:   8,
	MaxPendingDepositsPerEpoch:              16,
	KZGCommitmentsInclusionProofDepth:       4,
	FieldElementsPerCell:                    64,
	FieldElementsPerExtBlob:                 8192,
	CellsPerExtBlob:                         128,
	NumberOfColumns:                         128,
	SyncCommitteeSubnetCount:                4,
	TargetAggregatorsPerCommittee:           16,
	TargetAggregatorsPerSyncSubcommittee:    16,
	AttestationSubnetCount:                  64,
}

// Minimal is the consensus-specs "minimal" preset (presets/minimal/{phase0,...,fulu}.yaml), the
// one devnets and spec tests use for short epochs and small committees.
var Minimal = Preset{
	Name:                                    "minimal",
	MaxCommitteesPerSlot:                    4,
	TargetCommitteeSize:                     4,
	MaxValidatorsPerCommittee:               2048,
	ShuffleRoundCount:                       10,
	HysteresisQuotient:                      4,
	HysteresisDownwardMultiplier:            1,
	HysteresisUpwardMultiplier:              5,
	MinDepositAmount:                        1000000000,
	MaxEffectiveBalance:                     32000000000,
	EffectiveBalanceIncrement:               1000000000,
	MinAttestationInclusionDelay:            1,
	SlotsPerEpoch:                           8,
	MinSeedLookahead:                        1,
	MaxSeedLookahead:                        4,
	EpochsPerEth1VotingPeriod:               4,
	SlotsPerHistoricalRoot:                  64,
	MinEpochsToInactivityPenalty:            4,
	EpochsPerHistoricalVector:               64,
	EpochsPerSlashingsVector:                64,
	HistoricalRootsLimit:                    16777216,
	ValidatorRegistryLimit:                  1099511627776,
	BaseRewardFactor:                        64,
	WhistleblowerRewardQuotient:             512,
	ProposerRewardQuotient:                  8,
	InactivityPenaltyQuotient:               33554432,
	MinSlashingPenaltyQuotient:              64,
	ProportionalSlashingMultiplier:          2,
	MaxProposerSlashings:                    16,
	MaxAttesterSlashings:                    2,
	MaxAttestations:                         128,
	MaxDeposits:                             16,
	MaxVoluntaryExits:                       16,
	InactivityPenaltyQuotientAltair:         50331648,
	MinSlashingPenaltyQuotientAltair:        64,
	ProportionalSlashingMultiplierAltair:    2,
	SyncCommitteeSize:                       32,
	EpochsPerSyncCommitteePeriod:            8,
	MinSyncCommitteeParticipants:            1,
	UpdateTimeout:                           64,
	InactivityPenaltyQuotientBellatrix:      16777216,
	MinSlashingPenaltyQuotientBellatrix:     32,
	ProportionalSlashingMultiplierBellatrix: 3,
	MaxBytesPerTransaction:                  1073741824,
	MaxTransactionsPerPayload:               1048576,
	BytesPerLogsBloom:                       256,
	MaxExtraDataBytes:                       32,
	MaxBLSToExecutionChanges:                16,
	MaxWithdrawalsPerPayload:                4,
	MaxValidatorsPerWithdrawalsSweep:        16,
	MaxBlobCommitmentsPerBlock:              4096,
	KZGCommitmentInclusionProofDepth:        17,
	FieldElementsPerBlob:                    4096,
	MinActivationBalance:                    32000000000,
	MaxEffectiveBalanceElectra:              2048000000000,
	MinSlashingPenaltyQuotientElectra:       4096,
	WhistleblowerRewardQuotientElectra:      4096,
	PendingDepositsLimit:                    134217728,
	PendingPartialWithdrawalsLimit:          64,
	PendingConsolidationsLimit:              64,
	MaxAttesterSlashingsElectra:             1,
	MaxAttestationsElectra:                  8,
	MaxDepositRequestsPerPayload:            8192,
	MaxWithdrawalRequestsPerPayload:         16,
	MaxConsolidationRequestsPerPayload:      2,
	MaxPendingPartialsPerWithdrawalsSweep:   2,
	MaxPendingDepositsPerEpoch:              16,
	KZGCommitmentsInclusionProofDepth:       4,
	FieldElementsPerCell:                    64,
	FieldElementsPerExtBlob:                 8192,
	CellsPerExtBlob:                         128,
	NumberOfColumns:                         128,
	SyncCommitteeSubnetCount:                4,
	TargetAggregatorsPerCommittee:           16,
	TargetAggregatorsPerSyncSubcommittee:    16,
	AttestationSubnetCount:                  64,
}

// presetValue is one row of GET /eth/v1/config/spec.
type presetValue struct {
	name  string
	value uint64
}

// Values returns the preset as the Beacon API's GET /eth/v1/config/spec reports it: upper-case
// spec names, decimal strings for numbers, PRESET_BASE for the name. Network configuration
// (fork versions, SECONDS_PER_SLOT, ...) is the node's, not the preset's; the domain types are in
// SpecConstants.
func (p Preset) Values() map[string]string {
	rows := p.values()
	out := make(map[string]string, len(rows)+1)
	out["PRESET_BASE"] = p.Name
	for _, r := range rows {
		out[r.name] = strconv.FormatUint(r.value, 10)
	}
	return out
}

func (p Preset) values() []presetValue {
	return []presetValue{
		{"MAX_COMMITTEES_PER_SLOT", p.MaxCommitteesPerSlot},
		{"TARGET_COMMITTEE_SIZE", p.TargetCommitteeSize},
		{"MAX_VALIDATORS_PER_COMMITTEE", p.MaxValidatorsPerCommittee},
		{"SHUFFLE_ROUND_COUNT", uint64(p.ShuffleRoundCount)},
		{"HYSTERESIS_QUOTIENT", p.HysteresisQuotient},
		{"HYSTERESIS_DOWNWARD_MULTIPLIER", p.HysteresisDownwardMultiplier},
		{"HYSTERESIS_UPWARD_MULTIPLIER", p.HysteresisUpwardMultiplier},
		{"MIN_DEPOSIT_AMOUNT", p.MinDepositAmount},
		{"MAX_EFFECTIVE_BALANCE", p.MaxEffectiveBalance},
		{"EFFECTIVE_BALANCE_INCREMENT", p.EffectiveBalanceIncrement},
		{"MIN_ATTESTATION_INCLUSION_DELAY", p.MinAttestationInclusionDelay},
		{"SLOTS_PER_EPOCH", p.SlotsPerEpoch},
		{"MIN_SEED_LOOKAHEAD", p.MinSeedLookahead},
		{"MAX_SEED_LOOKAHEAD", p.MaxSeedLookahead},
		{"EPOCHS_PER_ETH1_VOTING_PERIOD", p.EpochsPerEth1VotingPeriod},
		{"SLOTS_PER_HISTORICAL_ROOT", p.SlotsPerHistoricalRoot},
		{"MIN_EPOCHS_TO_INACTIVITY_PENALTY", p.MinEpochsToInactivityPenalty},
		{"EPOCHS_PER_HISTORICAL_VECTOR", p.EpochsPerHistoricalVector},
		{"EPOCHS_PER_SLASHINGS_VECTOR", p.EpochsPerSlashingsVector},
		{"HISTORICAL_ROOTS_LIMIT", p.HistoricalRootsLimit},
		{"VALIDATOR_REGISTRY_LIMIT", p.ValidatorRegistryLimit},
		{"BASE_REWARD_FACTOR", p.BaseRewardFactor},
		{"WHISTLEBLOWER_REWARD_QUOTIENT", p.WhistleblowerRewardQuotient},
		{"PROPOSER_REWARD_QUOTIENT", p.ProposerRewardQuotient},
		{"INACTIVITY_PENALTY_QUOTIENT", p.InactivityPenaltyQuotient},
		{"MIN_SLASHING_PENALTY_QUOTIENT", p.MinSlashingPenaltyQuotient},
		{"PROPORTIONAL_SLASHING_MULTIPLIER", p.ProportionalSlashingMultiplier},
		{"MAX_PROPOSER_SLASHINGS", p.MaxProposerSlashings},
		{"MAX_ATTESTER_SLASHINGS", p.MaxAttesterSlashings},
		{"MAX_ATTESTATIONS", p.MaxAttestations},
		{"MAX_DEPOSITS", p.MaxDeposits},
		{"MAX_VOLUNTARY_EXITS", p.MaxVoluntaryExits},
		{"INACTIVITY_PENALTY_QUOTIENT_ALTAIR", p.InactivityPenaltyQuotientAltair},
		{"MIN_SLASHING_PENALTY_QUOTIENT_ALTAIR", p.MinSlashingPenaltyQuotientAltair},
		{"PROPORTIONAL_SLASHING_MULTIPLIER_ALTAIR", p.ProportionalSlashingMultiplierAltair},
		{"SYNC_COMMITTEE_SIZE", p.SyncCommitteeSize},
		{"EPOCHS_PER_SYNC_COMMITTEE_PERIOD", p.EpochsPerSyncCommitteePeriod},
		{"MIN_SYNC_COMMITTEE_PARTICIPANTS", p.MinSyncCommitteeParticipants},
		{"UPDATE_TIMEOUT", p.UpdateTimeout},
		{"INACTIVITY_PENALTY_QUOTIENT_BELLATRIX", p.InactivityPenaltyQuotientBellatrix},
		{"MIN_SLASHING_PENALTY_QUOTIENT_BELLATRIX", p.MinSlashingPenaltyQuotientBellatrix},
		{"PROPORTIONAL_SLASHING_MULTIPLIER_BELLATRIX", p.ProportionalSlashingMultiplierBellatrix},
		{"MAX_BYTES_PER_TRANSACTION", p.MaxBytesPerTransaction},
		{"MAX_TRANSACTIONS_PER_PAYLOAD", p.MaxTransactionsPerPayload},
		{"BYTES_PER_LOGS_BLOOM", p.BytesPerLogsBloom},
		{"MAX_EXTRA_DATA_BYTES", p.MaxExtraDataBytes},
		{"MAX_BLS_TO_EXECUTION_CHANGES", p.MaxBLSToExecutionChanges},
		{"MAX_WITHDRAWALS_PER_PAYLOAD", p.MaxWithdrawalsPerPayload},
		{"MAX_VALIDATORS_PER_WITHDRAWALS_SWEEP", p.MaxValidatorsPerWithdrawalsSweep},
		{"MAX_BLOB_COMMITMENTS_PER_BLOCK", p.MaxBlobCommitmentsPerBlock},
		{"KZG_COMMITMENT_INCLUSION_PROOF_DEPTH", p.KZGCommitmentInclusionProofDepth},
		{"FIELD_ELEMENTS_PER_BLOB", p.FieldElementsPerBlob},
		{"MIN_ACTIVATION_BALANCE", p.MinActivationBalance},
		{"MAX_EFFECTIVE_BALANCE_ELECTRA", p.MaxEffectiveBalanceElectra},
		{"MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA", p.MinSlashingPenaltyQuotientElectra},
		{"WHISTLEBLOWER_REWARD_QUOTIENT_ELECTRA", p.WhistleblowerRewardQuotientElectra},
		{"PENDING_DEPOSITS_LIMIT", p.PendingDepositsLimit},
		{"PENDING_PARTIAL_WITHDRAWALS_LIMIT", p.PendingPartialWithdrawalsLimit},
		{"PENDING_CONSOLIDATIONS_LIMIT", p.PendingConsolidationsLimit},
		{"MAX_ATTESTER_SLASHINGS_ELECTRA", p.MaxAttesterSlashingsElectra},
		{"MAX_ATTESTATIONS_ELECTRA", p.MaxAttestationsElectra},
		{"MAX_DEPOSIT_REQUESTS_PER_PAYLOAD", p.MaxDepositRequestsPerPayload},
		{"MAX_WITHDRAWAL_REQUESTS_PER_PAYLOAD", p.MaxWithdrawalRequestsPerPayload},
		{"MAX_CONSOLIDATION_REQUESTS_PER_PAYLOAD", p.MaxConsolidationRequestsPerPayload},
		{"MAX_PENDING_PARTIALS_PER_WITHDRAWALS_SWEEP", p.MaxPendingPartialsPerWithdrawalsSweep},
		{"MAX_PENDING_DEPOSITS_PER_EPOCH", p.MaxPendingDepositsPerEpoch},
		{"KZG_COMMITMENTS_INCLUSION_PROOF_DEPTH", p.KZGCommitmentsInclusionProofDepth},
		{"FIELD_ELEMENTS_PER_CELL", p.FieldElementsPerCell},
		{"FIELD_ELEMENTS_PER_EXT_BLOB", p.FieldElementsPerExtBlob},
		{"CELLS_PER_EXT_BLOB", p.CellsPerExtBlob},
		{"NUMBER_OF_COLUMNS", p.NumberOfColumns},
		{"SYNC_COMMITTEE_SUBNET_COUNT", p.SyncCommitteeSubnetCount},
		{"TARGET_AGGREGATORS_PER_COMMITTEE", p.TargetAggregatorsPerCommittee},
		{"TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE", p.TargetAggregatorsPerSyncSubcommittee},
		{"ATTESTATION_SUBNET_COUNT", p.AttestationSubnetCount},
	}
}
