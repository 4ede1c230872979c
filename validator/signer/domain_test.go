package signer

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func root(t *testing.T, s string) phase0.Root { return phase0.Root(mustHex(t, s)) }

var mainnetGVR = "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"

// Mainnet's fork digests (compute_fork_digest = fork_data_root[:4] before Fulu) are public
// network constants: every client's ENR carries them. They pin compute_fork_data_root and the
// mainnet genesis validators root.
func TestMainnetForkDigests(t *testing.T) {
	gvr := root(t, mainnetGVR)
	cases := []struct {
		fork    string
		version phase0.Version
		digest  string
	}{
		{"phase0", phase0.Version{0, 0, 0, 0}, "b5303f2a"},
		{"altair", phase0.Version{1, 0, 0, 0}, "afcaaba0"},
		{"bellatrix", phase0.Version{2, 0, 0, 0}, "4a26c58b"},
		{"capella", phase0.Version{3, 0, 0, 0}, "bba4da96"},
		{"deneb", phase0.Version{4, 0, 0, 0}, "6a95a1a9"},
	}
	for _, c := range cases {
		r := ComputeForkDataRoot(c.version, gvr)
		if got := hex.EncodeToString(r[:4]); got != c.digest {
			t.Errorf("%s: fork digest %s, want %s", c.fork, got, c.digest)
		}
		d := ComputeDomain(DomainBeaconAttester, c.version, gvr)
		if hex.EncodeToString(d[:8]) != "01000000"+c.digest {
			t.Errorf("%s: attester domain %x does not start with the domain type and the digest", c.fork, d)
		}
	}
}

// The mainnet builder domain (mev-boost, every relay and builder use the same constant):
// DOMAIN_APPLICATION_BUILDER with GENESIS_FORK_VERSION 0x00000000 and a zero root.
func TestMainnetBuilderDomain(t *testing.T) {
	n, err := NewNetwork(NetworkConfig{GenesisValidatorsRoot: root(t, mainnetGVR), SlotsPerEpoch: 32,
		GenesisForkVersion: phase0.Version{0, 0, 0, 0}, CapellaForkVersion: phase0.Version{3, 0, 0, 0},
		Forks: []Fork{{0, phase0.Version{0, 0, 0, 0}}, {74240, phase0.Version{1, 0, 0, 0}}, {194048, phase0.Version{3, 0, 0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	d := n.BuilderDomain()
	if want := "00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9"; hex.EncodeToString(d[:]) != want {
		t.Fatalf("builder domain %x, want %s", d, want)
	}
	// The fork version follows the schedule; exits stay on Capella (EIP-7044) even later.
	if v := n.ForkVersion(74239); v != (phase0.Version{0, 0, 0, 0}) {
		t.Errorf("epoch 74239: version %x, want phase0's", v)
	}
	if v := n.ForkVersion(74240); v != (phase0.Version{1, 0, 0, 0}) {
		t.Errorf("epoch 74240: version %x, want altair's", v)
	}
	if n.VoluntaryExitDomain() != ComputeDomain(DomainVoluntaryExit, phase0.Version{3, 0, 0, 0}, root(t, mainnetGVR)) {
		t.Error("voluntary exit domain is not the Capella one")
	}
	if n.Domain(DomainRandao, 10) == n.Domain(DomainRandao, 200000) {
		t.Error("domains of two forks are equal")
	}
}

// A devnet that starts at a later fork lists the earlier ones at epoch 0 too: the last listed of
// one epoch is in force.
func TestForksAtOneEpoch(t *testing.T) {
	n, err := NewNetwork(NetworkConfig{SlotsPerEpoch: 8, Forks: []Fork{{0, phase0.Version{1}}, {0, phase0.Version{2}}, {0, phase0.Version{3}}, {4, phase0.Version{4}}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := n.ForkVersion(3); v != (phase0.Version{3}) {
		t.Errorf("epoch 3: version %x, want 03000000", v)
	}
	if v := n.ForkVersion(4); v != (phase0.Version{4}) {
		t.Errorf("epoch 4: version %x, want 04000000", v)
	}
}

func TestNewNetworkRefuses(t *testing.T) {
	v := phase0.Version{1}
	for name, cfg := range map[string]NetworkConfig{
		"no slots per epoch": {Forks: []Fork{{0, v}}},
		"no forks":           {SlotsPerEpoch: 8},
		"no genesis fork":    {SlotsPerEpoch: 8, Forks: []Fork{{3, v}}},
	} {
		if _, err := NewNetwork(cfg); err == nil {
			t.Errorf("%s: NewNetwork accepted it", name)
		}
	}
}

// web3signer's signing-root test vectors (also used by r-signer's signing-root-util tests): fork
// version 0x00000001, genesis validators root 0x0470...a673, minimal preset. They are computed by
// an implementation that is neither zkv's signer nor its devnet node.
func web3signerNetwork(t *testing.T) *Network {
	t.Helper()
	v := phase0.Version{0, 0, 0, 1}
	n, err := NewNetwork(NetworkConfig{
		GenesisValidatorsRoot: root(t, "0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673"),
		GenesisForkVersion:    v, CapellaForkVersion: v, SlotsPerEpoch: 8, Forks: []Fork{{0, v}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWeb3signerVectors(t *testing.T) {
	n := web3signerNetwork(t)
	check := func(name string, got phase0.Root, want string) {
		t.Helper()
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: signing root %x, want %s", name, got, want)
		}
	}

	var hdr phase0.BeaconBlockHeader
	if err := json.Unmarshal([]byte(`{"slot":"0","proposer_index":"4666673844721362956",
		"parent_root":"0x367cbd40ac7318427aadb97345a91fa2e965daf3158d7f1846f1306305f41bef",
		"state_root":"0xfd18cf40cc907a739be483f1ca0ee23ad65cdd3df23205eabc6d660a75d1f54e",
		"body_root":"0xe74b0fc13f19ae2077403afa03fdc155484f22d05d93eb084473951bb3a8d1ae"}`), &hdr); err != nil {
		t.Fatal(err)
	}
	hr, err := hdr.HashTreeRoot() // a block's root equals its header's
	if err != nil {
		t.Fatal(err)
	}
	check("block", n.BlockSigningRoot(hdr.Slot, hr), "26d0ee0b6c2261cd6010112a024de4f3d2e1e9844d11d60b057fac344c745464")

	var data phase0.AttestationData
	if err := json.Unmarshal([]byte(`{"slot":"32","index":"0",
		"beacon_block_root":"0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89",
		"source":{"epoch":"0","root":"0x0000000000000000000000000000000000000000000000000000000000000000"},
		"target":{"epoch":"0","root":"0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89"}}`), &data); err != nil {
		t.Fatal(err)
	}
	ar, err := n.AttestationSigningRoot(&data)
	if err != nil {
		t.Fatal(err)
	}
	check("attestation", ar, "548c9a015f4c96cb8b1ddbbdfca85846f85bf9f344a434c140f378cdfb5341f0")

	check("selection proof", n.SelectionProofSigningRoot(119), "1fb90dd6e8b2670e6949347bc4eaacd37f9b6cc6e42c559973e362c800e853b9")
	check("randao", n.RandaoSigningRoot(3), "3d047c51a8b03630781dc4c5519c17f7de87174246ff2deed0f195c6c775f91e")

	er, err := n.VoluntaryExitSigningRoot(&phase0.VoluntaryExit{Epoch: 119, ValidatorIndex: 0})
	if err != nil {
		t.Fatal(err)
	}
	check("voluntary exit", er, "38e9f1cfe7926ce5366b633b7fc7113129025737394002d2637faaeefc56913d")

	var aap phase0.AggregateAndProof
	if err := json.Unmarshal([]byte(`{"aggregator_index":"1","aggregate":{"aggregation_bits":"0x00000101",
		"data":{"slot":"0","index":"0","beacon_block_root":"0x100814c335d0ced5014cfa9d2e375e6d9b4e197381f8ce8af0473200fdc917fd",
		"source":{"epoch":"0","root":"0x0000000000000000000000000000000000000000000000000000000000000000"},
		"target":{"epoch":"0","root":"0x100814c335d0ced5014cfa9d2e375e6d9b4e197381f8ce8af0473200fdc917fd"}},
		"signature":"0xa627242e4a5853708f4ebf923960fb8192f93f2233cd347e05239d86dd9fb66b721ceec1baeae6647f498c9126074f1101a87854d674b6eebc220fd8c3d8405bdfd8e286b707975d9e00a56ec6cbbf762f23607d490f0bbb16c3e0e483d51875"},
		"selection_proof":"0xa63f73a03f1f42b1fd0a988b614d511eb346d0a91c809694ef76df5ae021f0f144d64e612d735bc8820950cf6f7f84cd0ae194bfe3d4242fe79688f83462e3f69d9d33de71aab0721b7dab9d6960875e5fdfd26b171a75fb51af822043820c47"}`), &aap); err != nil {
		t.Fatal(err)
	}
	mr, err := aap.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	check("aggregate and proof", n.AggregateAndProofSigningRoot(aap.Aggregate.Data.Slot, mr), "8d777156899cb02e0e66217afd832886239752a59a393218f6c603bcf615b4f8")
}

// The attestation domain follows the target epoch, not the slot: an attestation of the last slot
// before a fork whose target is after it is signed under the new fork (get_attestation_signature
// uses attestation_data.target.epoch).
func TestAttestationDomainUsesTargetEpoch(t *testing.T) {
	a, b := phase0.Version{1}, phase0.Version{2}
	n, err := NewNetwork(NetworkConfig{SlotsPerEpoch: 8, Forks: []Fork{{0, a}, {5, b}}})
	if err != nil {
		t.Fatal(err)
	}
	data := &phase0.AttestationData{Slot: 39, Source: &phase0.Checkpoint{Epoch: 3}, Target: &phase0.Checkpoint{Epoch: 5}}
	got, err := n.AttestationSigningRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	dr, _ := data.HashTreeRoot()
	if got != SigningRoot(dr, ComputeDomain(DomainBeaconAttester, b, phase0.Root{})) {
		t.Fatal("attestation not signed under the target epoch's fork")
	}
	if _, err := n.AttestationSigningRoot(&phase0.AttestationData{}); err == nil {
		t.Fatal("attestation data without checkpoints accepted")
	}
}
