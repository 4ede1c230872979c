package slashing

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// FormatVersion is the EIP-3076 interchange format version read and written here.
const FormatVersion = "5"

// Interchange is an EIP-3076 slashing protection interchange document.
type Interchange struct {
	GenesisValidatorsRoot Root
	Data                  []ValidatorHistory
}

// ValidatorHistory is one validator's entry in an interchange. A pubkey may appear in several
// entries; they are merged on import.
type ValidatorHistory struct {
	Pubkey             Pubkey
	SignedBlocks       []SignedBlock
	SignedAttestations []SignedAttestation
}

// SignedBlock is a signed block in an interchange; SigningRoot is nil when unknown.
type SignedBlock struct {
	Slot        uint64
	SigningRoot *Root
}

// SignedAttestation is a signed attestation in an interchange; SigningRoot is nil when unknown.
type SignedAttestation struct {
	SourceEpoch, TargetEpoch uint64
	SigningRoot              *Root
}

// JSON mirrors. Pointers tell a missing required field from an empty one.
type rawInterchange struct {
	Metadata *rawMetadata    `json:"metadata"`
	Data     *[]rawValidator `json:"data"`
}

type rawMetadata struct {
	Version *string `json:"interchange_format_version"`
	GVR     *string `json:"genesis_validators_root"`
}

type rawValidator struct {
	Pubkey             *string           `json:"pubkey"`
	SignedBlocks       *[]rawBlock       `json:"signed_blocks"`
	SignedAttestations *[]rawAttestation `json:"signed_attestations"`
}

type rawBlock struct {
	Slot        *string `json:"slot"`
	SigningRoot *string `json:"signing_root,omitempty"`
}

type rawAttestation struct {
	Source      *string `json:"source_epoch"`
	Target      *string `json:"target_epoch"`
	SigningRoot *string `json:"signing_root,omitempty"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInterchange, fmt.Sprintf(format, args...))
}

// ReadInterchange parses and checks an interchange document: format version 5, every required
// field present, 0x-prefixed hex of the right length, decimal integers in strings. Errors name
// the offending entry.
func ReadInterchange(r io.Reader) (*Interchange, error) {
	dec := json.NewDecoder(r)
	var raw rawInterchange
	if err := dec.Decode(&raw); err != nil {
		return nil, invalid("not an interchange JSON document: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("trailing data after the JSON document")
	}
	if raw.Metadata == nil || raw.Metadata.Version == nil || raw.Metadata.GVR == nil {
		return nil, invalid("metadata.interchange_format_version and metadata.genesis_validators_root are required")
	}
	if v := *raw.Metadata.Version; v != FormatVersion {
		return nil, invalid("interchange_format_version %q, this client reads %q", v, FormatVersion)
	}
	var ic Interchange
	if err := decodeHex(*raw.Metadata.GVR, ic.GenesisValidatorsRoot[:]); err != nil {
		return nil, invalid("metadata.genesis_validators_root: %v", err)
	}
	if raw.Data == nil {
		return nil, invalid("data is required")
	}
	ic.Data = make([]ValidatorHistory, len(*raw.Data))
	for i, rv := range *raw.Data {
		v := &ic.Data[i]
		if rv.Pubkey == nil || rv.SignedBlocks == nil || rv.SignedAttestations == nil {
			return nil, invalid("data[%d]: pubkey, signed_blocks and signed_attestations are required", i)
		}
		if err := decodeHex(*rv.Pubkey, v.Pubkey[:]); err != nil {
			return nil, invalid("data[%d].pubkey: %v", i, err)
		}
		v.SignedBlocks = make([]SignedBlock, len(*rv.SignedBlocks))
		for j, rb := range *rv.SignedBlocks {
			b := &v.SignedBlocks[j]
			where := fmt.Sprintf("data[%d].signed_blocks[%d]", i, j)
			if rb.Slot == nil {
				return nil, invalid("%s: slot is required", where)
			}
			var err error
			if b.Slot, err = decodeUint(*rb.Slot); err != nil {
				return nil, invalid("%s.slot: %v", where, err)
			}
			if b.SigningRoot, err = decodeOptRoot(rb.SigningRoot); err != nil {
				return nil, invalid("%s.signing_root: %v", where, err)
			}
		}
		v.SignedAttestations = make([]SignedAttestation, len(*rv.SignedAttestations))
		for j, ra := range *rv.SignedAttestations {
			a := &v.SignedAttestations[j]
			where := fmt.Sprintf("data[%d].signed_attestations[%d]", i, j)
			if ra.Source == nil || ra.Target == nil {
				return nil, invalid("%s: source_epoch and target_epoch are required", where)
			}
			var err error
			if a.SourceEpoch, err = decodeUint(*ra.Source); err != nil {
				return nil, invalid("%s.source_epoch: %v", where, err)
			}
			if a.TargetEpoch, err = decodeUint(*ra.Target); err != nil {
				return nil, invalid("%s.target_epoch: %v", where, err)
			}
			if a.SigningRoot, err = decodeOptRoot(ra.SigningRoot); err != nil {
				return nil, invalid("%s.signing_root: %v", where, err)
			}
		}
	}
	return &ic, nil
}

func decodeHex(s string, out []byte) error {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return fmt.Errorf("%q lacks the 0x prefix", s)
	}
	if len(h) != 2*len(out) {
		return fmt.Errorf("%q is not %d bytes", s, len(out))
	}
	if _, err := hex.Decode(out, []byte(h)); err != nil {
		return fmt.Errorf("%q is not hex", s)
	}
	return nil
}

func decodeOptRoot(s *string) (*Root, error) {
	if s == nil {
		return nil, nil
	}
	var r Root
	if err := decodeHex(*s, r[:]); err != nil {
		return nil, err
	}
	return &r, nil
}

func decodeUint(s string) (uint64, error) {
	// EIP-3076 writes integers as decimal strings; ParseUint refuses signs, and base 10
	// refuses underscores and prefixes.
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal uint64", s)
	}
	return v, nil
}

// Write encodes the interchange as EIP-3076 JSON, format version 5.
func (ic *Interchange) Write(w io.Writer) error {
	version := FormatVersion
	gvr := ic.GenesisValidatorsRoot.String()
	data := make([]rawValidator, len(ic.Data))
	for i, v := range ic.Data {
		pk := v.Pubkey.String()
		blocks := make([]rawBlock, len(v.SignedBlocks))
		for j, b := range v.SignedBlocks {
			blocks[j] = rawBlock{Slot: ptr(strconv.FormatUint(b.Slot, 10)), SigningRoot: rootString(b.SigningRoot)}
		}
		atts := make([]rawAttestation, len(v.SignedAttestations))
		for j, a := range v.SignedAttestations {
			atts[j] = rawAttestation{
				Source:      ptr(strconv.FormatUint(a.SourceEpoch, 10)),
				Target:      ptr(strconv.FormatUint(a.TargetEpoch, 10)),
				SigningRoot: rootString(a.SigningRoot),
			}
		}
		data[i] = rawValidator{Pubkey: &pk, SignedBlocks: &blocks, SignedAttestations: &atts}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rawInterchange{Metadata: &rawMetadata{Version: &version, GVR: &gvr}, Data: &data})
}

func ptr[T any](v T) *T { return &v }

func rootString(r *Root) *string {
	if r == nil {
		return nil
	}
	return ptr(r.String())
}

// ImportStats summarises an import.
type ImportStats struct {
	Validators   int // distinct pubkeys
	Blocks       int // block records read
	Attestations int // attestation records read
	Transactions int // database transactions used (1 unless the import was very large)
}

// Import reads an interchange document and merges it into the protection records.
func (p *Protector) Import(ctx context.Context, r io.Reader) (ImportStats, error) {
	ic, err := ReadInterchange(r)
	if err != nil {
		return ImportStats{}, err
	}
	return p.ImportInterchange(ctx, ic)
}

// ImportInterchange merges ic into the protection records (EIP-3076, "Conditions"). Everything is
// checked before anything is written, so a refused import (another network, a malformed file)
// changes nothing. Records are merged, never replaced: a second record at a slot or target with
// another signing root leaves the root unknown, which refuses every signing there, and slashable
// data already in the file stays on record so that nothing conflicting with any of it can be
// signed. Under Minimal, or beyond History records under Complete, imported records fold into
// the low watermark.
//
// The write is one transaction unless the import exceeds a badger transaction (tens of thousands
// of records after folding); it is then split between validators, each validator's records staying
// atomic. A failure part-way leaves every validator either as before or fully imported, both
// safe; importing the same file again completes it.
func (p *Protector) ImportInterchange(ctx context.Context, ic *Interchange) (ImportStats, error) {
	if ic.GenesisValidatorsRoot != p.gvr {
		return ImportStats{}, fmt.Errorf("%w: interchange is for genesis validators root %v, this database for %v", ErrGenesisMismatch, ic.GenesisValidatorsRoot, p.gvr)
	}
	r := &request{kind: reqImport, ic: ic, stats: new(ImportStats), reply: make(chan error, 1)}
	answered, err := p.roundTrip(ctx, r)
	if !answered {
		return ImportStats{}, err // the committer may still be writing r.stats
	}
	return *r.stats, err
}

func (p *Protector) importLocked(ic *Interchange, stats *ImportStats) error {
	changed := make(map[Pubkey]*history)
	for _, v := range ic.Data {
		h := changed[v.Pubkey]
		if h == nil {
			if old := p.hist[v.Pubkey]; old != nil {
				h = old.clone()
			} else {
				h = &history{}
			}
			changed[v.Pubkey] = h
		}
		for _, b := range v.SignedBlocks {
			h.addBlock(b.Slot, importedRoot(b.SigningRoot), p.limit)
		}
		for _, a := range v.SignedAttestations {
			h.addAttestation(a.SourceEpoch, a.TargetEpoch, importedRoot(a.SigningRoot), p.limit)
		}
		stats.Blocks += len(v.SignedBlocks)
		stats.Attestations += len(v.SignedAttestations)
	}
	stats.Validators = len(changed)
	txns, err := p.writeChanges(changed)
	stats.Transactions = txns
	if err != nil {
		if txns > 0 {
			return fmt.Errorf("slashing: import stopped after %d transactions (each validator is imported fully or not at all; import again to finish): %w", txns, err)
		}
		return fmt.Errorf("slashing: import: %w", err)
	}
	return nil
}

func importedRoot(r *Root) optRoot {
	if r == nil {
		return optRoot{}
	}
	return optRoot{*r, true}
}

// validatorDump is a copy of one validator's state taken by the committer for export.
type validatorDump struct {
	pk Pubkey
	h  *history
}

// special runs an import or export request alone, between signing batches.
func (p *Protector) special(r *request) {
	switch r.kind {
	case reqImport:
		r.reply <- p.importLocked(r.ic, r.stats)
	case reqExport:
		out := make([]validatorDump, 0, len(p.hist))
		for pk, h := range p.hist {
			out = append(out, validatorDump{pk, h.clone()})
		}
		*r.export = out
		r.reply <- nil
	}
}

// ExportInterchange returns every validator's records as an EIP-3076 interchange. A low watermark
// (records folded out of the history) is exported as one block at its slot and one attestation
// at its source and target without signing roots, which makes any EIP-3076 importer refuse what
// the watermark refuses (EIP-3076 calls this minification).
func (p *Protector) ExportInterchange(ctx context.Context) (*Interchange, error) {
	r := &request{kind: reqExport, export: new([]validatorDump), reply: make(chan error, 1)}
	if _, err := p.roundTrip(ctx, r); err != nil {
		return nil, err
	}
	dumps := *r.export
	slices.SortFunc(dumps, func(a, b validatorDump) int { return compareBytes(a.pk[:], b.pk[:]) })
	ic := &Interchange{GenesisValidatorsRoot: p.gvr, Data: make([]ValidatorHistory, 0, len(dumps))}
	for _, d := range dumps {
		h := d.h
		v := ValidatorHistory{Pubkey: d.pk, SignedBlocks: []SignedBlock{}, SignedAttestations: []SignedAttestation{}}
		if h.low.hasSlot && (len(h.blocks) == 0 || h.low.slot < h.blocks[0].slot) {
			v.SignedBlocks = append(v.SignedBlocks, SignedBlock{Slot: h.low.slot})
		}
		for _, b := range h.blocks {
			v.SignedBlocks = append(v.SignedBlocks, SignedBlock{Slot: b.slot, SigningRoot: exportedRoot(b.root)})
		}
		if h.low.hasAtt && !slices.ContainsFunc(h.atts, func(a attRec) bool { return a.source == h.low.source && a.target == h.low.target }) {
			v.SignedAttestations = append(v.SignedAttestations, SignedAttestation{SourceEpoch: h.low.source, TargetEpoch: h.low.target})
		}
		for _, a := range h.atts {
			v.SignedAttestations = append(v.SignedAttestations, SignedAttestation{SourceEpoch: a.source, TargetEpoch: a.target, SigningRoot: exportedRoot(a.root)})
		}
		if len(v.SignedBlocks) == 0 && len(v.SignedAttestations) == 0 {
			continue // asked about but never signed anything
		}
		ic.Data = append(ic.Data, v)
	}
	return ic, nil
}

func exportedRoot(r optRoot) *Root {
	if !r.known {
		return nil
	}
	return ptr(r.r)
}

// Export writes every validator's records as EIP-3076 JSON.
func (p *Protector) Export(ctx context.Context, w io.Writer) error {
	ic, err := p.ExportInterchange(ctx)
	if err != nil {
		return err
	}
	return ic.Write(w)
}
