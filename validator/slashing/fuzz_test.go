package slashing

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/zkvlabs/zkv/db"
)

// FuzzHistoryAgainstReference decodes the input as a sequence of requests for one validator and
// checks each decision of the in-memory history (the Protector's decision core) against the
// brute-force reference: exactly, with unbounded history; for safety only (never approve what
// the reference refuses), with a short history and with Minimal's zero history.
func FuzzHistoryAgainstReference(f *testing.F) {
	f.Add([]byte{0x01, 3, 4, 0, 0x01, 2, 5, 1, 0x00, 7, 0, 0x00, 7, 1})
	f.Add([]byte{0x01, 2, 9, 0, 0x01, 3, 8, 0, 0x01, 1, 10, 1, 0x01, 9, 9, 0})
	f.Add([]byte{0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x01, 5, 3, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		hs := []*history{{}, {}, {}}
		limits := []int{1 << 30, 2, 0}
		ref := &reference{blocks: map[uint64]Root{}}
		for len(in) >= 4 {
			kind, x, y, r := in[0], uint64(in[1]%32), uint64(in[2]%32), root(int(in[3]%3))
			in = in[4:]
			if kind&1 == 0 {
				b := Block{Slot: x, SigningRoot: r}
				want := ref.allowsBlock(b, true)
				for i, h := range hs {
					repeat, reason, _ := h.checkBlock(b.Slot, r)
					ok := reason == 0
					if i == 0 && ok != want {
						t.Fatalf("block %+v: history allows %v, reference %v", b, ok, want)
					}
					if ok && !want {
						t.Fatalf("limit %d: block %+v approved, reference refuses", limits[i], b)
					}
					if ok && !repeat {
						h.addBlock(b.Slot, optRoot{r, true}, limits[i])
					}
				}
				if want {
					ref.blocks[b.Slot] = r
				}
				continue
			}
			a := Attestation{Source: x, Target: y, SigningRoot: r}
			want := ref.allowsAttestation(a, true)
			for i, h := range hs {
				repeat, reason, _ := h.checkAttestation(a.Source, a.Target, r)
				ok := reason == 0
				if i == 0 && ok != want {
					t.Fatalf("%+v: history allows %v, reference %v (records %+v)", a, ok, want, ref.atts)
				}
				if ok && !want {
					t.Fatalf("limit %d: %+v approved, reference refuses (records %+v)", limits[i], a, ref.atts)
				}
				if ok && !repeat {
					h.addAttestation(a.Source, a.Target, optRoot{r, true}, limits[i])
				}
				if ok != (reason == 0) || (repeat && reason != 0) {
					t.Fatal("inconsistent decision")
				}
			}
			if want && !containsAtt(ref.atts, a) {
				ref.atts = append(ref.atts, a)
			}
		}
		// A history's disk image reloads to the same history.
		for i, h := range hs {
			ops := diff(nil, pk(1), nil, h)
			back := replay(t, ops)
			if !reflect.DeepEqual(normal(back), normal(h)) {
				t.Fatalf("limit %d: reloaded %+v, want %+v", limits[i], back, h)
			}
		}
	})
}

// replay turns a fresh history's writes back into a history, as loadAll does from disk.
func replay(t *testing.T, ops []op) *history {
	h := &history{}
	for _, o := range ops {
		if o.del {
			t.Fatal("a fresh history's image deletes")
		}
		switch o.bucket {
		case db.SlashingBlocks:
			r, err := decodeRoot(o.value)
			if err != nil {
				t.Fatal(err)
			}
			h.blocks = append(h.blocks, blockRec{slot: binary.BigEndian.Uint64(o.key[48:]), root: r})
		case db.SlashingAttestations:
			r, err := decodeRoot(o.value)
			if err != nil {
				t.Fatal(err)
			}
			h.atts = append(h.atts, attRec{target: binary.BigEndian.Uint64(o.key[48:]), source: binary.BigEndian.Uint64(o.key[56:]), root: r})
		default:
			w, err := decodeWatermark(o.value)
			if err != nil {
				t.Fatal(err)
			}
			h.low = w
		}
	}
	h.summarize()
	return h
}

func normal(h *history) *history {
	c := h.clone()
	if len(c.blocks) == 0 {
		c.blocks = nil
	}
	if len(c.atts) == 0 {
		c.atts = nil
	}
	return c
}

// FuzzInterchangeRoundTrip: whatever ReadInterchange accepts, Write encodes to a document that
// reads back to the same value, and re-encodes to the same bytes.
func FuzzInterchangeRoundTrip(f *testing.F) {
	r := Root{1}
	seed := &Interchange{GenesisValidatorsRoot: Root{9}, Data: []ValidatorHistory{{
		Pubkey:             pk(1),
		SignedBlocks:       []SignedBlock{{Slot: 1}, {Slot: 1 << 63, SigningRoot: &r}},
		SignedAttestations: []SignedAttestation{{SourceEpoch: 1, TargetEpoch: 2, SigningRoot: &r}, {SourceEpoch: 0, TargetEpoch: 0}},
	}, {Pubkey: pk(2), SignedBlocks: []SignedBlock{}, SignedAttestations: []SignedAttestation{}}}}
	var b bytes.Buffer
	if err := seed.Write(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"metadata":{"interchange_format_version":"5","genesis_validators_root":"0x0000000000000000000000000000000000000000000000000000000000000000"},"data":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		ic, err := ReadInterchange(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := ic.Write(&out); err != nil {
			t.Fatal(err)
		}
		back, err := ReadInterchange(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-read of our own output: %v\n%s", err, out.Bytes())
		}
		if !reflect.DeepEqual(ic, back) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", ic, back)
		}
		var again bytes.Buffer
		if err := back.Write(&again); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
