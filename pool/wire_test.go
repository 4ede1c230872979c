package pool

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// FuzzDecodeBatch: whatever the bytes, DecodeBatch returns an error (ErrMalformed for the
// frame, prover.ErrMalformed for an item) and never panics; a batch it accepts re-encodes,
// item by item, to the bytes it came from.
func FuzzDecodeBatch(f *testing.F) {
	m, err := testMaterial()
	if err != nil {
		f.Fatal(err)
	}
	tr, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: testDepth, Network: testNetwork, IdentityKey: m.ik.VerifyingKey()})
	if err != nil {
		f.Fatal(err)
	}
	sk := testKey(f, 0)
	reg, err := registry.Sign(m.ik, sk, testWeight, tr.Domain())
	if err != nil {
		f.Fatal(err)
	}
	if err := tr.Register(reg); err != nil {
		f.Fatal(err)
	}
	if _, err := tr.Seal(3); err != nil {
		f.Fatal(err)
	}
	mem, err := tr.Member(sk.PublicKey().Bytes())
	if err != nil {
		f.Fatal(err)
	}
	p, st, err := m.prover.Prove(&prover.Request{Secret: prover.SecretFromBLS(sk), Weight: mem.Weight,
		Path: mem.Path, Root: mem.Root, Epoch: 3, SigningRoot: root("fuzz"), Network: testNetwork.ID()})
	if err != nil {
		f.Fatal(err)
	}
	it := Item{Claim: prover.Claim{Proof: *p, Statement: st}, SigningRoot: root("fuzz")}
	f.Add(EncodeBatch([]Item{it}))
	f.Add(EncodeBatch([]Item{it, it}))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, errs, err := DecodeBatch(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("frame error not ErrMalformed: %v", err)
			}
			return
		}
		for i := range items {
			raw := b[4+i*ItemSize : 4+(i+1)*ItemSize]
			if errs[i] != nil {
				if !errors.Is(errs[i], prover.ErrMalformed) {
					t.Fatalf("item %d: error not malformed: %v", i, errs[i])
				}
				continue
			}
			if again := AppendItem(nil, &items[i]); !bytes.Equal(again, raw) {
				t.Fatalf("item %d re-encodes differently", i)
			}
		}
	})
}

func TestAnswersRoundTrip(t *testing.T) {
	as := []Answer{{StatusAccepted, ""}, {StatusInvalidProof, "pairing"}, {StatusDuplicate, ""}}
	got, err := DecodeAnswers(EncodeAnswers(as))
	if err != nil || len(got) != 3 || got[1] != as[1] {
		t.Fatal(got, err)
	}
	b := EncodeAnswers(as)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), {0, 0}, {0xff, 0xff, 0xff, 0xff}} {
		if _, err := DecodeAnswers(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func TestNewChecksDependencies(t *testing.T) {
	m := mustMaterial(t)
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: testDepth, Network: testNetwork})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no verifying key", Config{Registry: reg, DB: d}},
		{"no registry", Config{Key: m.keys.VerifyingKey(), DB: d}},
		{"no database", Config{Key: m.keys.VerifyingKey(), Registry: reg}},
	} {
		if _, err := New(tc.cfg); err == nil || err.Error() != "pool: "+tc.name {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := New(Config{Key: m.keys.VerifyingKey(), Registry: reg, DB: d}); err != nil {
		t.Fatal(err)
	}
}
