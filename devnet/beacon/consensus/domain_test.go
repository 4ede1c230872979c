package consensus

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// mainnetGVR is mainnet's genesis_validators_root.
var mainnetGVR = mustRoot("4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95")

func mustRoot(s string) [32]byte {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 32 {
		panic("bad root " + s)
	}
	var r [32]byte
	copy(r[:], b)
	return r
}

func version(s string) [4]byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		panic("bad version " + s)
	}
	return [4]byte(b)
}

// TestComputeDomainKnownAnswers pins domains published by other projects.
func TestComputeDomainKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, source     string
		domainType       [4]byte
		forkVersion, gvr string
		want             string
	}{
		{"mainnet deposit", "the deposit contract's DEPOSIT_DOMAIN; Lighthouse chain_spec.rs get_deposit_domain",
			DomainDeposit, "00000000", "", "03000000f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9"},
		{"mainnet builder", "flashbots mev-boost relay TestComputeDomain (domainBuilder); builder-specs",
			DomainApplicationBuilder, "00000000", "", "00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9"},
		{"mainnet bellatrix proposer", "flashbots mev-boost relay TestComputeDomain (domainBeaconProposer)",
			DomainBeaconProposer, "02000000", "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
			"000000004a26c58b08add8089b75caa540848881a8d4f0af0be83417a85c0f45"},
		{"mainnet altair sync committee", "Snowfork/snowbridge parachain/pallets/ethereum-client/src/tests.rs compute_domain_bls",
			DomainSyncCommittee, "01000000", "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
			"07000000afcaaba0efab1ca832a15152469bb09bb84641c405171dfa2d3fb45f"},
		{"snowbridge test network sync committee", "Snowfork/snowbridge ethereum-client tests compute_domain",
			DomainSyncCommittee, "00000001", "5dec7ae03261fde20d5b024dfabce8bac3276c9a4908e23d50ba8c9b50b0adff",
			"0700000046324489ceb6ada6d118eacdbe94f49b1fcb49d5481a685979670c7c"},
	} {
		var gvr [32]byte
		if tc.gvr != "" {
			gvr = mustRoot(tc.gvr)
		}
		got := ComputeDomain(tc.domainType, version(tc.forkVersion), gvr)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("%s (%s): domain %x, want %s", tc.name, tc.source, got, tc.want)
		}
	}
}

// TestForkDataRootMainnetDigests checks compute_fork_data_root against mainnet's fork digests
// (compute_fork_digest before Fulu is fork_data_root[:4]) as every client announces them in its
// ENR and gossip topics (b5303f2a ... ad532ceb; e.g. migalabs' crawler lists phase0-deneb), and
// Deneb's full fork data root as a Solidity beacon light client hard-codes it.
func TestForkDataRootMainnetDigests(t *testing.T) {
	for _, tc := range []struct{ fork, version, digest string }{
		{"phase0", "00000000", "b5303f2a"},
		{"altair", "01000000", "afcaaba0"},
		{"bellatrix", "02000000", "4a26c58b"},
		{"capella", "03000000", "bba4da96"},
		{"deneb", "04000000", "6a95a1a9"},
		{"electra", "05000000", "ad532ceb"},
	} {
		got := ComputeForkDataRoot(version(tc.version), mainnetGVR)
		if hex.EncodeToString(got[:4]) != tc.digest {
			t.Errorf("%s: fork digest %x, want %s", tc.fork, got[:4], tc.digest)
		}
	}
	deneb := ComputeForkDataRoot(version("04000000"), mainnetGVR)
	if deneb != mustRoot("6a95a1a967855d676d48be69883b712607f952d5198d0f5677564636f365ac53") {
		t.Errorf("deneb fork data root %x", deneb)
	}
}

// TestDomainAgreesWithFastSSZ cross-checks ForkData and SigningData hashing against
// go-eth2-client's generated fastssz code, for the mainnet Electra DOMAIN_BEACON_ATTESTER (whose
// fork-digest prefix 01000000ad532ceb is pinned above).
func TestDomainAgreesWithFastSSZ(t *testing.T) {
	electra := version("05000000")
	fd := &phase0.ForkData{CurrentVersion: phase0.Version(electra), GenesisValidatorsRoot: phase0.Root(mainnetGVR)}
	want, err := fd.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := ComputeForkDataRoot(electra, mainnetGVR); got != want {
		t.Fatalf("fork data root %x, fastssz %x", got, want)
	}
	domain := ComputeDomain(DomainBeaconAttester, electra, mainnetGVR)
	if hex.EncodeToString(domain[:8]) != "01000000ad532ceb" {
		t.Fatalf("electra attester domain %x", domain)
	}
	data := &phase0.AttestationData{
		Slot: 12345678, Index: 0, BeaconBlockRoot: phase0.Root{1},
		Source: &phase0.Checkpoint{Epoch: 385801, Root: phase0.Root{2}},
		Target: &phase0.Checkpoint{Epoch: 385802, Root: phase0.Root{3}},
	}
	objectRoot, err := data.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	sd := &phase0.SigningData{ObjectRoot: objectRoot, Domain: phase0.Domain(domain)}
	wantRoot, err := sd.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	got, err := SigningRootOf(data, domain)
	if err != nil {
		t.Fatal(err)
	}
	if got != wantRoot || SigningRoot(objectRoot, domain) != wantRoot {
		t.Fatalf("signing root %x, fastssz %x", got, wantRoot)
	}
}

// TestSigningRootKnownAnswer: a mainnet block header signed by the sync committee, from
// Snowfork/snowbridge parachain/pallets/ethereum-client/src/tests.rs compute_signing_root_bls.
func TestSigningRootKnownAnswer(t *testing.T) {
	header := &phase0.BeaconBlockHeader{
		Slot:          3529537,
		ProposerIndex: 192549,
		ParentRoot:    phase0.Root(mustRoot("1f8dc05ea427f78e84e2e2666e13c3befb7106fd1d40ef8a3f67cf615f3f2a4c")),
		StateRoot:     phase0.Root(mustRoot("0dfb492a83da711996d2d76b64604f9bca9dc08b6c13cf63b3be91742afe724b")),
		BodyRoot:      phase0.Root(mustRoot("66fba38f7c8c2526f7ddfe09c1a54dd12ff93bdd4d0df6a0950e88e802228bfa")),
	}
	domain := mustRoot("07000000afcaaba0efab1ca832a15152469bb09bb84641c405171dfa2d3fb45f")
	got, err := SigningRootOf(header, domain)
	if err != nil {
		t.Fatal(err)
	}
	if got != mustRoot("3ff6e9807da70b2f65cdd58ea1b25ed441a1d589025d2c4091182026d7af08fb") {
		t.Fatalf("signing root %x", got)
	}
}

type failingRoot struct{}

func (failingRoot) HashTreeRoot() ([32]byte, error) { return [32]byte{}, errors.New("boom") }

func TestSigningRootOfErrors(t *testing.T) {
	if _, err := SigningRootOf(nil, [32]byte{}); err == nil {
		t.Error("nil object gave no error")
	}
	if _, err := SigningRootOf(failingRoot{}, [32]byte{}); err == nil {
		t.Error("failing HashTreeRoot gave no error")
	}
}

// TestUint64Roots: hash_tree_root(uint64) is the little-endian value padded to 32 bytes, and
// SyncAggregatorSelectionData is a two-field container of them.
func TestUint64Roots(t *testing.T) {
	for _, v := range []uint64{0, 1, 32, 1 << 63, 0x0102030405060708} {
		var want [32]byte
		binary.LittleEndian.PutUint64(want[:], v)
		if EpochRoot(v) != want || SlotRoot(v) != want {
			t.Errorf("root of %d = %x", v, EpochRoot(v))
		}
	}
	if SyncAggregatorSelectionDataRoot(5, 2) != hashPair(SlotRoot(5), SlotRoot(2)) {
		t.Error("sync aggregator selection data root")
	}
	// The randao reveal of epoch 5 on mainnet Electra: the signing root of the epoch under
	// DOMAIN_RANDAO equals fastssz's SigningData over the same two roots.
	domain := ComputeDomain(DomainRandao, version("05000000"), mainnetGVR)
	sd := &phase0.SigningData{ObjectRoot: phase0.Root(EpochRoot(5)), Domain: phase0.Domain(domain)}
	want, err := sd.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	if SigningRoot(EpochRoot(5), domain) != want {
		t.Error("randao signing root differs from fastssz")
	}
}

func TestSpecConstants(t *testing.T) {
	c := SpecConstants()
	for name, want := range map[string]string{
		"DOMAIN_BEACON_PROPOSER":                "0x00000000",
		"DOMAIN_BEACON_ATTESTER":                "0x01000000",
		"DOMAIN_RANDAO":                         "0x02000000",
		"DOMAIN_DEPOSIT":                        "0x03000000",
		"DOMAIN_VOLUNTARY_EXIT":                 "0x04000000",
		"DOMAIN_SELECTION_PROOF":                "0x05000000",
		"DOMAIN_AGGREGATE_AND_PROOF":            "0x06000000",
		"DOMAIN_SYNC_COMMITTEE":                 "0x07000000",
		"DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF": "0x08000000",
		"DOMAIN_CONTRIBUTION_AND_PROOF":         "0x09000000",
		"DOMAIN_APPLICATION_MASK":               "0x00000001",
		"DOMAIN_APPLICATION_BUILDER":            "0x00000001",
	} {
		if c[name] != want {
			t.Errorf("%s = %q, want %q", name, c[name], want)
		}
	}
	if len(c) != 12 {
		t.Errorf("%d constants, want 12", len(c))
	}
}
