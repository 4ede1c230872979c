package slashing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/db"
)

const zeroGVR = "0x0000000000000000000000000000000000000000000000000000000000000000"

func doc(data string) string {
	return `{"metadata":{"interchange_format_version":"5","genesis_validators_root":"` + zeroGVR + `"},"data":` + data + `}`
}

var pk1 = pk(1).String()

func TestReadInterchangeRefusesBadInput(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `{`, "not an interchange JSON document"},
		{"trailing data", doc(`[]`) + `{}`, "trailing data"},
		{"no metadata", `{"data":[]}`, "metadata.interchange_format_version"},
		{"version 4", strings.Replace(doc(`[]`), `"5"`, `"4"`, 1), `interchange_format_version "4"`},
		{"version as number", strings.Replace(doc(`[]`), `"5"`, `5`, 1), "not an interchange JSON document"},
		{"short root", strings.Replace(doc(`[]`), zeroGVR, "0x00", 1), "genesis_validators_root"},
		{"no data", `{"metadata":{"interchange_format_version":"5","genesis_validators_root":"` + zeroGVR + `"}}`, "data is required"},
		{"no pubkey", doc(`[{"signed_blocks":[],"signed_attestations":[]}]`), "data[0]: pubkey"},
		{"bad pubkey", doc(`[{"pubkey":"0xzz","signed_blocks":[],"signed_attestations":[]}]`), "data[0].pubkey"},
		{"pubkey without 0x", doc(`[{"pubkey":"` + pk1[2:] + `","signed_blocks":[],"signed_attestations":[]}]`), "lacks the 0x prefix"},
		{"no signed_blocks", doc(`[{"pubkey":"` + pk1 + `","signed_attestations":[]}]`), "signed_blocks"},
		{"no slot", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[{}],"signed_attestations":[]}]`), "data[0].signed_blocks[0]: slot is required"},
		{"negative slot", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[{"slot":"-1"}],"signed_attestations":[]}]`), "data[0].signed_blocks[0].slot"},
		{"numeric slot", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[{"slot":1}],"signed_attestations":[]}]`), "not an interchange JSON document"},
		{"overflow epoch", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[],"signed_attestations":[{"source_epoch":"1","target_epoch":"18446744073709551616"}]}]`), "data[0].signed_attestations[0].target_epoch"},
		{"no target", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[],"signed_attestations":[{"source_epoch":"1"}]}]`), "source_epoch and target_epoch are required"},
		{"bad root", doc(`[{"pubkey":"` + pk1 + `","signed_blocks":[{"slot":"1","signing_root":"0x01"}],"signed_attestations":[]}]`), "signed_blocks[0].signing_root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadInterchange(strings.NewReader(tt.in))
			if !errors.Is(err, ErrInvalidInterchange) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want ErrInvalidInterchange mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRefusedImportChangesNothing(t *testing.T) {
	p, d := newTestProtector(t, Config{})
	ctx := context.Background()
	if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 1, Target: 2, SigningRoot: root(1)}); err != nil {
		t.Fatal(err)
	}
	before := exportJSON(t, p)
	rows := countRows(t, d)
	good := `{"pubkey":"` + pk(2).String() + `","signed_blocks":[{"slot":"5"}],"signed_attestations":[]}`
	bad := `{"pubkey":"` + pk(3).String() + `","signed_blocks":[{"slot":"x"}],"signed_attestations":[]}`
	for _, in := range []string{
		doc(`[` + good + `,` + bad + `]`),                                // a bad entry after a good one
		strings.Replace(doc(`[`+good+`]`), zeroGVR, root(7).String(), 1), // another network
	} {
		if _, err := p.Import(ctx, strings.NewReader(in)); err == nil {
			t.Fatal("import accepted")
		}
		if exportJSON(t, p) != before || countRows(t, d) != rows {
			t.Fatal("refused import changed the records")
		}
	}
	_, err := p.Import(ctx, strings.NewReader(strings.Replace(doc(`[]`), zeroGVR, root(7).String(), 1)))
	if !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("other network: %v", err)
	}
}

// Exporting and importing into a fresh database carries every refusal over.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, _ := newTestProtector(t, Config{History: 3})
	for k := range 3 {
		for e := uint64(1); e <= 6; e++ {
			if err := src.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(k), Source: e - 1, Target: e, SigningRoot: root(int(e))}); err != nil {
				t.Fatal(err)
			}
			if err := src.CheckAndRecordBlock(ctx, Block{Pubkey: pk(k), Slot: 10 * e, SigningRoot: root(int(e))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A validator that was only asked about (refused) is not exported.
	_ = src.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(9), Source: 2, Target: 1})
	var buf bytes.Buffer
	if err := src.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	ic, err := ReadInterchange(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ic.Data) != 3 {
		t.Fatalf("exported %d validators, want 3", len(ic.Data))
	}
	for _, strategy := range []Strategy{Complete, Minimal} {
		dst, _ := newTestProtector(t, Config{Strategy: strategy})
		stats, err := dst.Import(ctx, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if stats.Validators != 3 || stats.Transactions != 1 || stats.Attestations != 12 || stats.Blocks != 12 {
			t.Fatalf("stats %+v", stats)
		}
		for k := range 3 {
			for _, a := range []Attestation{
				{Pubkey: pk(k), Source: 0, Target: 7},                        // surrounds
				{Pubkey: pk(k), Source: 2, Target: 3, SigningRoot: root(99)}, // folded double
				{Pubkey: pk(k), Source: 5, Target: 6, SigningRoot: root(99)}, // double
			} {
				if err := dst.CheckAndRecordAttestation(ctx, a); !errors.Is(err, ErrSlashable) {
					t.Fatalf("%v: imported history allowed %+v: %v", strategy, a, err)
				}
			}
			if err := dst.CheckAndRecordBlock(ctx, Block{Pubkey: pk(k), Slot: 25}); !errors.Is(err, ErrSlashable) {
				t.Fatalf("%v: block below the imported history allowed: %v", strategy, err)
			}
			if err := dst.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(k), Source: 6, Target: 7}); err != nil {
				t.Fatalf("%v: the next attestation: %v", strategy, err)
			}
			if err := dst.CheckAndRecordBlock(ctx, Block{Pubkey: pk(k), Slot: 61}); err != nil {
				t.Fatalf("%v: the next block: %v", strategy, err)
			}
		}
	}
	// Importing the same file twice is idempotent.
	again, _ := newTestProtector(t, Config{History: 3})
	for range 2 {
		if _, err := again.Import(ctx, bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	if got := exportJSON(t, again); got != buf.String() {
		t.Fatalf("re-import changed the export:\n%s\nwant\n%s", got, buf.String())
	}
}

// An import larger than one transaction is split between validators and still complete.
func TestLargeImportSplitsBetweenValidators(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 70,000 records")
	}
	ctx := context.Background()
	var sb strings.Builder
	const validators, per = 1100, 64
	sb.WriteString(`[`)
	for v := range validators {
		if v > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"pubkey":"%s","signed_blocks":[],"signed_attestations":[`, pk(v))
		for e := range per {
			if e > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `{"source_epoch":"%d","target_epoch":"%d","signing_root":"%s"}`, e, e+1, root(e))
		}
		sb.WriteString(`]}`)
	}
	sb.WriteString(`]`)
	p, d := newTestProtector(t, Config{})
	stats, err := p.Import(ctx, strings.NewReader(doc(sb.String())))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Transactions < 2 || stats.Validators != validators || stats.Attestations != validators*per {
		t.Fatalf("stats %+v", stats)
	}
	if n := countRows(t, d); n != validators*per {
		t.Fatalf("%d rows, want %d", n, validators*per)
	}
	// What is on disk is what a restarted Protector decides from.
	var hs map[Pubkey]*history
	if err := d.View(func(tx *db.Txn) error { hs, err = loadAll(tx); return err }); err != nil {
		t.Fatal(err)
	}
	if _, reason, _ := hs[pk(validators-1)].checkAttestation(10, 11, root(99)); reason != DoubleVote {
		t.Fatalf("after reload: %v", reason)
	}
}
