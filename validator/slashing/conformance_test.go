package slashing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/internal/testvectors"
)

// The EIP-3076 interchange test suite (eth-clients/slashing-protection-interchange-tests v5.3.0).
type interchangeCase struct {
	Name                  string `json:"name"`
	GenesisValidatorsRoot string `json:"genesis_validators_root"`
	Steps                 []struct {
		ShouldSucceed         bool            `json:"should_succeed"`
		ContainsSlashableData bool            `json:"contains_slashable_data"`
		Interchange           json.RawMessage `json:"interchange"`
		Blocks                []struct {
			Pubkey                string `json:"pubkey"`
			Slot                  string `json:"slot"`
			SigningRoot           string `json:"signing_root"`
			ShouldSucceed         bool   `json:"should_succeed"`
			ShouldSucceedComplete bool   `json:"should_succeed_complete"`
		} `json:"blocks"`
		Attestations []struct {
			Pubkey                string `json:"pubkey"`
			SourceEpoch           string `json:"source_epoch"`
			TargetEpoch           string `json:"target_epoch"`
			SigningRoot           string `json:"signing_root"`
			ShouldSucceed         bool   `json:"should_succeed"`
			ShouldSucceedComplete bool   `json:"should_succeed_complete"`
		} `json:"attestations"`
	} `json:"steps"`
}

func TestInterchangeConformance(t *testing.T) {
	dir := testvectors.Dir(t, "slashing-protection-interchange")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, strategy := range []Strategy{Minimal, Complete} {
		t.Run(strategy.String(), func(t *testing.T) {
			var cases, steps, blocks, atts, imports, refusedImports int
			for _, f := range files {
				if filepath.Base(f) == "interchange.schema.json" {
					continue
				}
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var c interchangeCase
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				cases++
				var gvr Root
				if err := decodeHex(c.GenesisValidatorsRoot, gvr[:]); err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				// A subtest per case, so that each case's database is closed when it ends.
				t.Run(c.Name, func(t *testing.T) {
					p, _ := newTestProtector(t, Config{GenesisValidatorsRoot: gvr, Strategy: strategy})
					ctx := context.Background()
					for si, s := range c.Steps {
						steps++
						imports++
						before := exportJSON(t, p)
						_, err := p.Import(ctx, bytes.NewReader(s.Interchange))
						if s.ShouldSucceed != (err == nil) {
							t.Errorf("%s step %d: import error %v, want success %v", c.Name, si, err, s.ShouldSucceed)
						}
						if err != nil {
							refusedImports++
							// A refused import changes nothing.
							if after := exportJSON(t, p); after != before {
								t.Errorf("%s step %d: refused import changed the records", c.Name, si)
							}
						}
						// contains_slashable_data lets an implementation refuse the import; this one
						// always imports (keeping slashable records as constraints), so every check runs.
						for bi, b := range s.Blocks {
							blocks++
							want := b.ShouldSucceed
							if strategy == Complete {
								want = b.ShouldSucceedComplete
							}
							req := Block{Pubkey: mustPubkey(t, b.Pubkey), Slot: mustUint(t, b.Slot), SigningRoot: mustRoot(t, b.SigningRoot)}
							err := p.CheckAndRecordBlock(ctx, req)
							if (err == nil) != want {
								t.Errorf("%s step %d block %d (slot %s): got %v, want success %v", c.Name, si, bi, b.Slot, err, want)
							}
							if err != nil && !errors.Is(err, ErrSlashable) {
								t.Errorf("%s step %d block %d: unexpected error kind %v", c.Name, si, bi, err)
							}
						}
						for ai, a := range s.Attestations {
							atts++
							want := a.ShouldSucceed
							if strategy == Complete {
								want = a.ShouldSucceedComplete
							}
							req := Attestation{Pubkey: mustPubkey(t, a.Pubkey), Source: mustUint(t, a.SourceEpoch), Target: mustUint(t, a.TargetEpoch), SigningRoot: mustRoot(t, a.SigningRoot)}
							err := p.CheckAndRecordAttestation(ctx, req)
							if (err == nil) != want {
								t.Errorf("%s step %d attestation %d (%s->%s): got %v, want success %v", c.Name, si, ai, a.SourceEpoch, a.TargetEpoch, err, want)
							}
							if err != nil && !errors.Is(err, ErrSlashable) {
								t.Errorf("%s step %d attestation %d: unexpected error kind %v", c.Name, si, ai, err)
							}
						}
					}
				})
			}
			t.Logf("%s strategy: %d cases, %d steps (%d imports, %d refused as expected), %d block checks, %d attestation checks",
				strategy, cases, steps, imports, refusedImports, blocks, atts)
			if cases != 38 || steps != 49 || blocks != 71 || atts != 79 {
				t.Errorf("walked %d cases, %d steps, %d block checks, %d attestation checks; the v5.3.0 suite has 38, 49, 71, 79", cases, steps, blocks, atts)
			}
		})
	}
}

func exportJSON(t *testing.T, p *Protector) string {
	t.Helper()
	var b strings.Builder
	if err := p.Export(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func mustPubkey(t *testing.T, s string) (pk Pubkey) {
	t.Helper()
	if err := decodeHex(s, pk[:]); err != nil {
		t.Fatal(err)
	}
	return pk
}

func mustRoot(t *testing.T, s string) (r Root) {
	t.Helper()
	if err := decodeHex(s, r[:]); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := decodeUint(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
