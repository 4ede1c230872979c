package beacon

import "github.com/zkvlabs/zkv/devnet/beacon/consensus"

// devnetPreset is the preset the node runs. The mainnet preset runs as it is. The minimal preset
// runs with its schedule (8-slot epochs, 8-epoch sync-committee periods, 10 shuffle rounds, target
// committees of 4) but with every value that shapes an SSZ type kept at mainnet's (a sync committee
// of 512, 64 committees and 2048 validators per committee at most, every list limit): go-eth2-client
// and every client built for mainnet encode and hash with mainnet's shapes, and a minimal-shaped
// block root would be signed by nobody. config/spec reports PRESET_BASE mainnet with these values.
func devnetPreset(p consensus.Preset) consensus.Preset {
	if p.Name != consensus.Minimal.Name {
		return p
	}
	out := consensus.Mainnet
	out.Name = consensus.Minimal.Name
	out.SlotsPerEpoch = p.SlotsPerEpoch
	out.EpochsPerSyncCommitteePeriod = p.EpochsPerSyncCommitteePeriod
	out.ShuffleRoundCount = p.ShuffleRoundCount
	out.TargetCommitteeSize = p.TargetCommitteeSize
	out.EpochsPerEth1VotingPeriod = p.EpochsPerEth1VotingPeriod
	return out
}
