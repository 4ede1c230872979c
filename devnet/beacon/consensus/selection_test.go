package consensus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
)

// pyspecCase is one case of testdata/pyspec/electra.json, computed by running the consensus
// specs' own Python (ethereum/consensus-specs a08d8a6e2b45: phase0 get_seed,
// get_beacon_committee, get_beacon_proposer_index, validator.md is_aggregator; altair
// is_sync_committee_aggregator; electra compute_proposer_index and
// get_next_sync_committee_indices). testdata/README.md describes the fixture.
type pyspecCase struct {
	Name              string       `json:"name"`
	Validators        uint64       `json:"validators"`
	Epoch             uint64       `json:"epoch"`
	Active            []uint64     `json:"active"`
	Mix               string       `json:"mix"`
	AttesterSeed      string       `json:"attester_seed"`
	ProposerSeed      string       `json:"proposer_seed"`
	CommitteesPerSlot uint64       `json:"committees_per_slot"`
	Proposers         []uint64     `json:"proposers"`
	Committees        [][][]uint64 `json:"committees"`
	SyncSeed          string       `json:"sync_seed"`
	SyncActive        []uint64     `json:"sync_active"`
	SyncCommittee     []uint64     `json:"sync_committee"`
	Aggregator        []bool       `json:"aggregator"`
	SyncAggregator    []bool       `json:"sync_aggregator"`
}

func loadPyspec(t *testing.T) []pyspecCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/pyspec/electra.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []pyspecCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) != 2 {
		t.Fatalf("%d pyspec cases, want 2", len(doc.Cases))
	}
	return doc.Cases
}

func hex32(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad 32-byte hex %q", s)
	}
	var out [32]byte
	copy(out[:], b)
	return out
}

// fixtureBalance is the fixture's effective balance of validator i (testdata/README.md).
func fixtureBalance(i uint64) uint64 { return (32 + (i*i*7919+13*i)%2017) * 1_000_000_000 }

func fixtureSignature(i int) [96]byte {
	h := sha256.Sum256(fmt.Appendf(nil, "zkv signature %d", i))
	var sig [96]byte
	copy(sig[0:], h[:])
	copy(sig[32:], h[:])
	copy(sig[64:], h[:])
	return sig
}

func presetByName(t *testing.T, name string) Preset {
	switch name {
	case "mainnet":
		return Mainnet
	case "minimal":
		return Minimal
	}
	t.Fatalf("unknown preset %q", name)
	return Preset{}
}

// TestElectraSelectionPyspec checks seeds, committees, proposers (Electra
// compute_proposer_index), the next sync committee (Electra get_next_sync_committee_indices) and
// aggregator selection against the values the spec's Python computed for the same validators.
func TestElectraSelectionPyspec(t *testing.T) {
	for _, c := range loadPyspec(t) {
		t.Run(c.Name, func(t *testing.T) {
			p := presetByName(t, c.Name)
			// The mix get_seed reads: get_randao_mix(epoch + EPOCHS_PER_HISTORICAL_VECTOR -
			// MIN_SEED_LOOKAHEAD - 1), the fixture's mixes being sha256("zkv randao <slot>").
			mixSlot := (c.Epoch + p.EpochsPerHistoricalVector - p.MinSeedLookahead - 1) % p.EpochsPerHistoricalVector
			mix := sha256.Sum256(fmt.Appendf(nil, "zkv randao %d", mixSlot))
			if mix != hex32(t, c.Mix) {
				t.Fatalf("fixture mix differs from the generator's")
			}
			// The active set leaves out validator 3 (not yet active) and 7 (exited).
			var active []uint64
			for i := uint64(0); i < c.Validators; i++ {
				if i != 3 && i != 7 {
					active = append(active, i)
				}
			}
			if !slices.Equal(active, c.Active) {
				t.Fatalf("active set differs from get_active_validator_indices")
			}

			attesterSeed := Seed(mix, DomainBeaconAttester, c.Epoch)
			if attesterSeed != hex32(t, c.AttesterSeed) {
				t.Fatalf("attester seed %x, want %s", attesterSeed, c.AttesterSeed)
			}
			proposerSeed := Seed(mix, DomainBeaconProposer, c.Epoch)
			if proposerSeed != hex32(t, c.ProposerSeed) {
				t.Fatalf("proposer seed %x, want %s", proposerSeed, c.ProposerSeed)
			}

			cps := CommitteeCountPerSlot(uint64(len(active)), p)
			if cps != c.CommitteesPerSlot {
				t.Fatalf("%d committees per slot, want %d", cps, c.CommitteesPerSlot)
			}
			shuffled := Shuffle(active, attesterSeed, p.ShuffleRoundCount)
			for s := range p.SlotsPerEpoch {
				slot := c.Epoch*p.SlotsPerEpoch + s
				for idx := range cps {
					got := BeaconCommittee(shuffled, slot, idx, cps, p)
					if !slices.Equal(got, c.Committees[s][idx]) {
						t.Fatalf("slot %d committee %d = %v, want %v", slot, idx, got, c.Committees[s][idx])
					}
				}
				proposer, err := ProposerIndex(active, ProposerSeed(proposerSeed, slot), fixtureBalance, p)
				if err != nil {
					t.Fatal(err)
				}
				if proposer != c.Proposers[s] {
					t.Fatalf("slot %d proposer %d, want %d", slot, proposer, c.Proposers[s])
				}
			}

			// The next sync committee's seed is get_seed of epoch+1, which reads the mix one
			// slot further on.
			syncMix := sha256.Sum256(fmt.Appendf(nil, "zkv randao %d", (mixSlot+1)%p.EpochsPerHistoricalVector))
			syncSeed := Seed(syncMix, DomainSyncCommittee, c.Epoch+1)
			if syncSeed != hex32(t, c.SyncSeed) {
				t.Fatalf("sync seed %x, want %s", syncSeed, c.SyncSeed)
			}
			sync, err := SyncCommitteeIndices(c.SyncActive, syncSeed, fixtureBalance, p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sync, c.SyncCommittee) {
				t.Fatalf("sync committee differs from get_next_sync_committee_indices:\n got %v\nwant %v", sync, c.SyncCommittee)
			}

			committeeLen := uint64(len(c.Committees[0][0]))
			for i := range c.Aggregator {
				if got := IsAggregator(committeeLen, fixtureSignature(i), p); got != c.Aggregator[i] {
					t.Errorf("is_aggregator(signature %d) = %v, want %v", i, got, c.Aggregator[i])
				}
				if got := IsSyncCommitteeAggregator(fixtureSignature(i), p); got != c.SyncAggregator[i] {
					t.Errorf("is_sync_committee_aggregator(signature %d) = %v, want %v", i, got, c.SyncAggregator[i])
				}
			}
		})
	}
}

// TestElectraSamplingUsesBalance: a validator at MAX_EFFECTIVE_BALANCE_ELECTRA is always
// accepted when drawn and one at 32 ETH only about 1 time in 64, so over many slots the
// 2048-ETH validator proposes far more often than its 1-in-n share of the set.
func TestElectraSamplingUsesBalance(t *testing.T) {
	active := identity(64)
	balance := func(i uint64) uint64 {
		if i == 5 {
			return Mainnet.MaxEffectiveBalanceElectra
		}
		return Mainnet.MinActivationBalance
	}
	wins := 0
	const slots = 400
	for slot := range uint64(slots) {
		idx, err := ProposerIndex(active, ProposerSeed([32]byte{7}, slot), balance, Mainnet)
		if err != nil {
			t.Fatal(err)
		}
		if idx == 5 {
			wins++
		}
	}
	// Its expected share is 64/(64+63) ~ 50%; a uniform draw would give 1/64 ~ 6 of 400.
	if wins < slots/4 {
		t.Fatalf("the 2048-ETH validator proposed %d of %d slots", wins, slots)
	}
}

func TestSelectionBadInput(t *testing.T) {
	var seed [32]byte
	if _, err := ProposerIndex(nil, seed, fixtureBalance, Mainnet); !errors.Is(err, ErrEmptySet) {
		t.Errorf("empty set: %v, want ErrEmptySet", err)
	}
	zero := func(uint64) uint64 { return 0 }
	if _, err := ProposerIndex([]uint64{1, 2}, seed, zero, Mainnet); !errors.Is(err, ErrNoBalance) {
		t.Errorf("zero balances: %v, want ErrNoBalance", err)
	}
	if _, err := ProposerIndex([]uint64{1}, seed, nil, Mainnet); err == nil {
		t.Error("nil balance function gave no error")
	}
	if _, err := SyncCommitteeIndices(nil, seed, fixtureBalance, Minimal); !errors.Is(err, ErrEmptySet) {
		t.Errorf("sync, empty set: %v, want ErrEmptySet", err)
	}
	noSync := Minimal
	noSync.SyncCommitteeSize = 0
	if _, err := SyncCommitteeIndices([]uint64{1}, seed, fixtureBalance, noSync); err == nil {
		t.Error("sync committee size 0 gave no error")
	}
	// Duplicates are allowed: one validator fills the whole committee.
	got, err := SyncCommitteeIndices([]uint64{42}, seed, fixtureBalance, Minimal)
	if err != nil || len(got) != int(Minimal.SyncCommitteeSize) || slices.IndexFunc(got, func(v uint64) bool { return v != 42 }) >= 0 {
		t.Errorf("single validator sync committee = %v, %v", got, err)
	}
}

func TestSubnets(t *testing.T) {
	for _, tc := range []struct {
		cps, slot, index, want uint64
	}{
		{64, 0, 0, 0},
		{64, 1, 0, 0},  // 64 committees already used by slot 0: wraps to subnet 0
		{1, 33, 0, 1},  // slot 1 of epoch 1
		{2, 31, 1, 63}, // 2*31 + 1
		{3, 31, 2, 31}, // (93 + 2) % 64
	} {
		if got := ComputeSubnetForAttestation(tc.cps, tc.slot, tc.index, Mainnet); got != tc.want {
			t.Errorf("compute_subnet_for_attestation(%d, %d, %d) = %d, want %d", tc.cps, tc.slot, tc.index, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p        Preset
		position uint64
		want     uint64
		ok       bool
	}{
		{Mainnet, 0, 0, true}, {Mainnet, 127, 0, true}, {Mainnet, 128, 1, true}, {Mainnet, 511, 3, true},
		{Mainnet, 512, 0, false}, {Minimal, 7, 0, true}, {Minimal, 8, 1, true}, {Minimal, 31, 3, true},
	} {
		got, ok := SyncSubcommitteeIndex(tc.position, tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s position %d: subcommittee %d, %v; want %d, %v", tc.p.Name, tc.position, got, ok, tc.want, tc.ok)
		}
	}
}

func BenchmarkShuffle(b *testing.B) {
	for _, n := range []uint64{10_000, 1_000_000} {
		list := identity(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				Shuffle(list, [32]byte{byte(i)}, Mainnet.ShuffleRoundCount)
			}
		})
	}
}

// BenchmarkProposerIndex draws an Electra proposer from a mainnet-sized set of 32-ETH
// validators, the worst realistic case (about 64 draws per acceptance).
func BenchmarkProposerIndex(b *testing.B) {
	active := identity(1_000_000)
	balance := func(uint64) uint64 { return 32_000_000_000 }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := ProposerIndex(active, ProposerSeed([32]byte{1}, uint64(i)), balance, Mainnet); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSyncCommitteeIndices(b *testing.B) {
	active := identity(1_000_000)
	balance := func(uint64) uint64 { return 32_000_000_000 }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := SyncCommitteeIndices(active, [32]byte{byte(i)}, balance, Mainnet); err != nil {
			b.Fatal(err)
		}
	}
}
