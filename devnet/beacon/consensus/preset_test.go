package consensus

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// presetLine is a `NAME: value` line of a consensus-specs preset file.
var presetLine = regexp.MustCompile(`^([A-Z][A-Z0-9_]*):\s*([0-9]+)\s*(#.*)?$`)

// TestPresetValuesMatchSpecFiles compares Values with the consensus-specs preset files
// (testdata/presets/<name>/{phase0,...,fulu}.yaml, ethereum/consensus-specs a08d8a6e2b45): every
// key of the files is reported with the file's value, and Values reports nothing else except
// PRESET_BASE and the validator.md/p2p constants.
func TestPresetValuesMatchSpecFiles(t *testing.T) {
	extra := map[string]string{
		"SYNC_COMMITTEE_SUBNET_COUNT":              "4",
		"TARGET_AGGREGATORS_PER_COMMITTEE":         "16",
		"TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE": "16",
		"ATTESTATION_SUBNET_COUNT":                 "64",
	}
	for _, p := range []Preset{Mainnet, Minimal} {
		t.Run(p.Name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("testdata", "presets", p.Name, "*.yaml"))
			if err != nil || len(files) != 7 {
				t.Fatalf("preset files: %v, %v", files, err)
			}
			want := map[string]string{"PRESET_BASE": p.Name}
			for k, v := range extra {
				want[k] = v
			}
			for _, f := range files {
				fh, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(fh)
				for sc.Scan() {
					if m := presetLine.FindStringSubmatch(sc.Text()); m != nil {
						want[m[1]] = m[2]
					}
				}
				fh.Close()
			}
			got := p.Values()
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, spec says %q", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("Values reports %s, which no preset file has", k)
				}
			}
			// 32 phase0 + 7 altair + 7 bellatrix + 3 capella + 3 deneb + 14 electra + 5 fulu keys.
			if len(want) != 71+1+len(extra) {
				t.Errorf("%d keys in the preset files, want 70", len(want)-1-len(extra))
			}
		})
	}
}

// TestPresetFieldsUsed pins the fields the rest of the package reads, so that a preset edit that
// breaks a spec function fails here with a clear name.
func TestPresetFieldsUsed(t *testing.T) {
	for _, tc := range []struct {
		p                                                   Preset
		slots, committees, target, rounds, sync, historical uint64
	}{
		{Mainnet, 32, 64, 128, 90, 512, 65536},
		{Minimal, 8, 4, 4, 10, 32, 64},
	} {
		p := tc.p
		if p.SlotsPerEpoch != tc.slots || p.MaxCommitteesPerSlot != tc.committees || p.TargetCommitteeSize != tc.target ||
			uint64(p.ShuffleRoundCount) != tc.rounds || p.SyncCommitteeSize != tc.sync || p.EpochsPerHistoricalVector != tc.historical {
			t.Errorf("%s preset: %+v", p.Name, p)
		}
		if p.MaxEffectiveBalanceElectra != 2048*eth || p.MinActivationBalance != 32*eth || p.MaxEffectiveBalance != 32*eth ||
			p.EffectiveBalanceIncrement != eth {
			t.Errorf("%s preset balances: %+v", p.Name, p)
		}
	}
}
