package consensus

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// shuffleCase is one consensus-spec-tests shuffling case: tests/<preset>/phase0/shuffling/core/
// shuffle/<case>/mapping.yaml, where mapping[i] = compute_shuffled_index(i, count, seed).
type shuffleCase struct {
	name    string
	seed    [32]byte
	count   uint64
	mapping []uint64
}

// loadShuffleCases reads testdata/shuffling/<preset>.yaml.gz: the consensus-spec-tests cases
// (see testdata/README.md for where they come from and how they were checked), each case's
// mapping.yaml after a "# case: <name>" line, gzipped into one file per preset. The format is
// three YAML keys, parsed here without a YAML library.
func loadShuffleCases(t *testing.T, preset string) []shuffleCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "shuffling", preset+".yaml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var cases []shuffleCase
	for _, text := range strings.Split(string(all), "# case: ")[1:] {
		name, _, _ := strings.Cut(text, "\n")
		c := shuffleCase{name: name}
		f := preset + "/" + name
		seedAt := strings.Index(text, "seed: '0x")
		countAt := strings.Index(text, "count: ")
		mapAt := strings.Index(text, "mapping: [")
		if seedAt < 0 || countAt < 0 || mapAt < 0 {
			t.Fatalf("%s: not a shuffling case", f)
		}
		seed, err := hex.DecodeString(text[seedAt+9 : seedAt+9+64])
		if err != nil {
			t.Fatalf("%s: seed: %v", f, err)
		}
		copy(c.seed[:], seed)
		countLine, _, _ := strings.Cut(text[countAt+7:], "\n")
		if c.count, err = strconv.ParseUint(strings.TrimSpace(countLine), 10, 64); err != nil {
			t.Fatalf("%s: count: %v", f, err)
		}
		body, _, ok := strings.Cut(text[mapAt+10:], "]")
		if !ok {
			t.Fatalf("%s: unterminated mapping", f)
		}
		for _, field := range strings.FieldsFunc(body, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			v, err := strconv.ParseUint(field, 10, 64)
			if err != nil {
				t.Fatalf("%s: mapping: %v", f, err)
			}
			c.mapping = append(c.mapping, v)
		}
		if uint64(len(c.mapping)) != c.count {
			t.Fatalf("%s: %d mapping entries for count %d", f, len(c.mapping), c.count)
		}
		cases = append(cases, c)
	}
	return cases
}

func identity(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// TestShufflingVectors runs the consensus-spec-tests "shuffling" vectors (mainnet: 90 rounds,
// minimal: 10) through both ComputeShuffledIndex, index by index, and Shuffle of the whole
// list (the test format's runners 1 and 3).
func TestShufflingVectors(t *testing.T) {
	for _, p := range []Preset{Mainnet, Minimal} {
		t.Run(p.Name, func(t *testing.T) {
			cases := loadShuffleCases(t, p.Name)
			// 30 seeds x 9 list sizes, plus one list of 9,999: see testdata/README.md.
			if len(cases) != 271 {
				t.Fatalf("found %d shuffling cases for %s, want 271", len(cases), p.Name)
			}
			indexChecks := 0
			for _, c := range cases {
				got := Shuffle(identity(c.count), c.seed, p.ShuffleRoundCount)
				if !slices.Equal(got, c.mapping) {
					t.Errorf("%s: Shuffle differs from the vector", c.name)
				}
				if c.count == 0 {
					if _, err := ComputeShuffledIndex(0, 0, c.seed, p.ShuffleRoundCount); err == nil {
						t.Errorf("%s: ComputeShuffledIndex over an empty list gave no error", c.name)
					}
					continue
				}
				step := uint64(1)
				if testing.Short() && c.count > 1000 {
					step = 7 // 1,429 of the 9,999 indices; all of them without -short
				}
				for i := uint64(0); i < c.count; i += step {
					got, err := ComputeShuffledIndex(i, c.count, c.seed, p.ShuffleRoundCount)
					if err != nil {
						t.Fatalf("%s: index %d: %v", c.name, i, err)
					}
					if got != c.mapping[i] {
						t.Fatalf("%s: compute_shuffled_index(%d) = %d, want %d", c.name, i, got, c.mapping[i])
					}
					indexChecks++
				}
			}
			t.Logf("%s: %d cases, %d single-index checks", p.Name, len(cases), indexChecks)
		})
	}
}

// TestShuffleMatchesComputeShuffledIndex is the property out[i] == indices[compute_shuffled_index(i)]
// on random lists (arbitrary values, not 0..n-1), seeds and round counts, with sizes around the
// 256-position bucket boundaries.
func TestShuffleMatchesComputeShuffledIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 255, 256, 257, 511, 512, 513, 1000}
	for trial := 0; trial < 40; trial++ {
		n := sizes[trial%len(sizes)]
		if trial >= len(sizes) {
			n = 1 + rng.IntN(3000)
		}
		var seed [32]byte
		for i := range seed {
			seed[i] = byte(rng.UintN(256))
		}
		rounds := uint8(rng.IntN(100))
		list := make([]uint64, n)
		for i := range list {
			list[i] = rng.Uint64()
		}
		orig := slices.Clone(list)
		got := Shuffle(list, seed, rounds)
		if !slices.Equal(list, orig) {
			t.Fatal("Shuffle modified its input")
		}
		for i := range got {
			j, err := ComputeShuffledIndex(uint64(i), uint64(n), seed, rounds)
			if err != nil {
				t.Fatal(err)
			}
			if got[i] != list[j] {
				t.Fatalf("trial %d (n=%d, rounds=%d): out[%d] = %d, want indices[%d] = %d", trial, n, rounds, i, got[i], j, list[j])
			}
		}
		// A permutation: the same multiset of values.
		a, b := slices.Clone(got), slices.Clone(list)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Fatalf("trial %d: Shuffle is not a permutation of its input", trial)
		}
	}
}

func TestComputeShuffledIndexBadInput(t *testing.T) {
	var seed [32]byte
	for _, tc := range []struct{ index, count uint64 }{
		{0, 0}, {5, 5}, {6, 5}, {0, 1<<40 + 1},
	} {
		if _, err := ComputeShuffledIndex(tc.index, tc.count, seed, 90); err == nil {
			t.Errorf("ComputeShuffledIndex(%d, %d) gave no error", tc.index, tc.count)
		}
	}
	if got := Shuffle(nil, seed, 90); got == nil || len(got) != 0 {
		t.Errorf("Shuffle(nil) = %v, want an empty list", got)
	}
}

// TestSeed pins get_seed's byte layout: hash(domain_type + uint_to_bytes(epoch) + mix).
func TestSeed(t *testing.T) {
	mix := [32]byte{1, 2, 3}
	got := Seed(mix, DomainBeaconAttester, 0x0102030405060708)
	var want bytes.Buffer
	want.Write([]byte{1, 0, 0, 0})
	want.Write([]byte{8, 7, 6, 5, 4, 3, 2, 1})
	want.Write(mix[:])
	if got != sha256.Sum256(want.Bytes()) {
		t.Fatalf("Seed = %x", got)
	}
}

func TestCommitteeCountPerSlot(t *testing.T) {
	for _, tc := range []struct {
		p      Preset
		active uint64
		want   uint64
	}{
		{Mainnet, 0, 1},
		{Mainnet, 32*128*2 - 1, 1},
		{Mainnet, 32 * 128 * 2, 2},
		{Mainnet, 1_000_000, 64},
		{Minimal, 100, 3},
		{Minimal, 1000, 4},
	} {
		if got := CommitteeCountPerSlot(tc.active, tc.p); got != tc.want {
			t.Errorf("%s, %d active: %d committees per slot, want %d", tc.p.Name, tc.active, got, tc.want)
		}
	}
}

// TestBeaconCommitteesPartition checks that the committees of an epoch split the shuffled list
// into consecutive, disjoint pieces that cover it, and that out-of-range indices give nil.
func TestBeaconCommitteesPartition(t *testing.T) {
	shuffled := Shuffle(identity(1003), [32]byte{9}, Minimal.ShuffleRoundCount)
	cps := CommitteeCountPerSlot(uint64(len(shuffled)), Minimal)
	var all []uint64
	for slot := uint64(16); slot < 24; slot++ {
		for idx := uint64(0); idx < cps; idx++ {
			c := BeaconCommittee(shuffled, slot, idx, cps, Minimal)
			if len(c) < 31 || len(c) > 32 {
				t.Fatalf("slot %d committee %d has %d members", slot, idx, len(c))
			}
			all = append(all, c...)
		}
		if BeaconCommittee(shuffled, slot, cps, cps, Minimal) != nil {
			t.Fatalf("committee index %d of %d gave a committee", cps, cps)
		}
	}
	if !slices.Equal(all, shuffled) {
		t.Fatal("the epoch's committees do not cover the shuffled list in order")
	}
	// Counts no get_committee_count_per_slot gives are refused, not divided by.
	huge := Minimal
	huge.MaxCommitteesPerSlot = 1 << 63
	huge.SlotsPerEpoch = 1 << 62
	for _, tc := range []struct {
		p   Preset
		cps uint64
	}{{Minimal, Minimal.MaxCommitteesPerSlot + 1}, {huge, 1 << 62}, {Preset{}, 1}} {
		if c := BeaconCommittee(shuffled, 5, 0, tc.cps, tc.p); c != nil {
			t.Errorf("%d committees per slot gave committee %v", tc.cps, c)
		}
	}
}

func ExampleShuffle() {
	seed := [32]byte{}
	fmt.Println(len(Shuffle([]uint64{10, 20, 30}, seed, Minimal.ShuffleRoundCount)))
	// Output: 3
}
