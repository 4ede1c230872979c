package prover

import (
	"errors"
	"testing"
)

// An exported cache entry imports into a fresh prover of the same keys, whose next proof of
// the validator reuses the imported groups and verifies; a proof after the registry changed
// (other siblings, another root) still verifies, since the digests guard every reused group.
func TestCacheExportImportRoundTrip(t *testing.T) {
	keys := mustKeys(t)
	vk := keys.VerifyingKey()
	vs := newTestValidators(6)
	tr := testRegistry(t, 4, vs)
	a := mustProver(t)
	req := testRequest(tr, vs, 3, 7, "first")
	if _, _, err := a.Prove(&req); err != nil {
		t.Fatal(err)
	}
	id := IdentityCommitment(vs[3].secret)
	blob, err := a.ExportCache(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExportCache(IdentityCommitment(DeriveSecret([32]byte{'n', 'e', 'v', 'e', 'r'}))); !errors.Is(err, ErrNotCached) {
		t.Fatalf("export of an uncached validator: %v, want ErrNotCached", err)
	}

	b, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b.KeysID() != a.KeysID() {
		t.Fatal("two provers of the same keys have different keys IDs")
	}
	got, err := b.ImportCache(blob)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !got.Equal(&id) {
		t.Fatal("import returned another identity")
	}
	again, err := b.ExportCache(id)
	if err != nil || string(again) != string(blob) {
		t.Fatalf("re-export differs from the import (%v)", err)
	}
	next := testRequest(tr, vs, 3, 8, "second")
	proof, st, err := b.Prove(&next)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyPairing(proof, &st); err != nil {
		t.Fatalf("proof with imported cache: %v", err)
	}
	if b.reused.Load() == 0 {
		t.Fatal("the proof after the import reused no cached group")
	}

	// The registry grew: validator 3's path changes; imported groups of the old path must not
	// be used for the new values.
	grown := testRegistry(t, 4, newTestValidators(16))
	c, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportCache(blob); err != nil {
		t.Fatal(err)
	}
	moved := testRequest(grown, newTestValidators(16), 3, 9, "third")
	proof, st, err = c.Prove(&moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyPairing(proof, &st); err != nil {
		t.Fatalf("proof after the tree changed, with a stale imported entry: %v", err)
	}
}

// A damaged entry and an entry of other keys are refused and leave the cache as it was.
func TestCacheImportRefuses(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(2)
	tr := testRegistry(t, 4, vs)
	a := mustProver(t)
	req := testRequest(tr, vs, 1, 7, "first")
	if _, _, err := a.Prove(&req); err != nil {
		t.Fatal(err)
	}
	blob, err := a.ExportCache(IdentityCommitment(vs[1].secret))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	corrupt := map[string][]byte{
		"empty":     nil,
		"truncated": blob[:len(blob)-1],
		"flipped":   flip(blob, len(blob)/2),
		"checksum":  flip(blob, len(blob)-1),
		"magic":     flip(blob, 0),
	}
	for name, b := range corrupt {
		if _, err := fresh.ImportCache(b); !errors.Is(err, ErrCorruptCache) {
			t.Errorf("%s: %v, want ErrCorruptCache", name, err)
		}
	}
	if n := fresh.cache.Len(); n != 0 {
		t.Fatalf("refused imports left %d entries", n)
	}

	// Another setup of the same circuit: same circuit hash, other bases.
	other, _, err := LoadKeys(KeyConfig{Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	if other.CircuitHash() != keys.CircuitHash() {
		t.Fatal("same circuit, different hashes")
	}
	op, err := NewProver(other, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ImportCache(blob); !errors.Is(err, ErrCacheMismatch) {
		t.Fatalf("entry of another setup: %v, want ErrCacheMismatch", err)
	}
	if n := op.cache.Len(); n != 0 {
		t.Fatalf("a refused import left %d entries", n)
	}
	off, err := NewProver(keys, ProverConfig{CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.ImportCache(blob); !errors.Is(err, ErrNoCache) {
		t.Fatalf("import without a cache: %v, want ErrNoCache", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

// FuzzImportCache: whatever the bytes, ImportCache does not panic, and what it accepts
// re-exports to the same bytes.
func FuzzImportCache(f *testing.F) {
	vs := newTestValidators(1)
	tr := testRegistry(f, 4, vs)
	p := mustProver(f)
	req := testRequest(tr, vs, 0, 1, "seed")
	if _, _, err := p.Prove(&req); err != nil {
		f.Fatal(err)
	}
	blob, err := p.ExportCache(IdentityCommitment(vs[0].secret))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := p.ImportCache(b)
		if err != nil {
			return
		}
		out, err := p.ExportCache(id)
		if err != nil || string(out) != string(b) {
			t.Fatalf("accepted entry re-exports differently (%v)", err)
		}
	})
}

// Every epoch of a validator reuses the same cached groups, whichever bits of the epoch number
// its increment flips: the layout labels every epoch-dependent wire volatile. (With an
// experiment that only incremented the epoch, the range check's higher bits looked fixed, and
// every other epoch recomputed the group that held them.)
func TestEveryEpochReusesTheSameGroups(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(3)
	tr := testRegistry(t, 4, vs)
	p, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for e := uint64(1); e <= 9; e++ {
		before := p.reused.Load()
		req := testRequest(tr, vs, 1, e, "vote")
		if _, _, err := p.Prove(&req); err != nil {
			t.Fatal(err)
		}
		got := p.reused.Load() - before
		switch {
		case e == 1 && got != 0:
			t.Fatalf("the first proof reused %d groups", got)
		case e == 2:
			want = got
			if want == 0 {
				t.Fatal("the second epoch reused no group")
			}
		case e > 2 && got != want:
			t.Fatalf("epoch %d reused %d groups, epoch 2 reused %d", e, got, want)
		}
	}
}
