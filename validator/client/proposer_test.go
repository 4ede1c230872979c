package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/propconfig"
)

// proposerNode records what the client sends about proposers. Proposal answers a blinded block
// worth bid wei when asked with a non-zero boost factor, and an error otherwise, so that propose
// stops right after asking.
type proposerNode struct {
	BeaconNode
	bid *big.Int

	mu    sync.Mutex
	preps []*apiv1.ProposalPreparation
	regs  []*api.VersionedSignedValidatorRegistration
	opts  []api.ProposalOpts
}

func (n *proposerNode) SubmitProposalPreparations(_ context.Context, p []*apiv1.ProposalPreparation) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.preps = p
	return nil
}

func (n *proposerNode) SubmitValidatorRegistrations(_ context.Context, r []*api.VersionedSignedValidatorRegistration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.regs = r
	return nil
}

func (n *proposerNode) Proposal(_ context.Context, o *api.ProposalOpts) (*api.Response[*api.VersionedProposal], error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.opts = append(n.opts, *o)
	if n.bid != nil && (o.BuilderBoostFactor == nil || *o.BuilderBoostFactor > 0) {
		return &api.Response[*api.VersionedProposal]{Data: &api.VersionedProposal{Version: spec.DataVersionElectra, Blinded: true, ExecutionValue: n.bid}}, nil
	}
	return nil, errors.New("no block today")
}

// proposerService is a bench Service with three validators (indices 0, 1, 2) on a proposerNode,
// options fee recipient 0x..01, gas limit 30M, graffiti "flags", boost 100.
func proposerService(t *testing.T, cfg string) (*Service, *proposerNode, []phase0.BLSPubKey) {
	t.Helper()
	s, pks := newBenchService(t, 3)
	node := &proposerNode{}
	s.bn = node
	s.o.feeRecipient = bellatrix.ExecutionAddress{19: 1}
	s.o.gasLimit = 30_000_000
	copy(s.o.graffiti[:], "flags")
	hundred := uint64(100)
	s.o.boost = &hundred
	s.vals = map[phase0.ValidatorIndex]phase0.BLSPubKey{}
	for i, pk := range pks {
		s.vals[phase0.ValidatorIndex(i)] = pk
		s.indices = append(s.indices, phase0.ValidatorIndex(i))
	}
	if err := s.holdKeys(pks); err != nil {
		t.Fatal(err)
	}
	if cfg != "" {
		c, err := propconfig.Parse([]byte(fmt.Sprintf(cfg, pks[0], pks[1])))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetProposerConfig(c); err != nil {
			t.Fatal(err)
		}
	}
	return s, node, pks
}

// Validator 0 has its own section, 1 has the builder off, 2 takes the default section, which
// takes the options' gas limit.
const threeValidators = `
default:
  fee_recipient: "0x00000000000000000000000000000000000000dd"
  graffiti: "default"
  builder:
    boost_factor: 50
"%#x":
  fee_recipient: "0x00000000000000000000000000000000000000aa"
  gas_limit: 45000000
  graffiti: "zero"
  builder:
    boost_factor: 200
"%#x":
  builder:
    enabled: false
`

func TestProposerConfigPerValidator(t *testing.T) {
	s, node, pks := proposerService(t, threeValidators)
	ctx := context.Background()

	s.prepareProposers(ctx)
	wantFee := []byte{0xaa, 0xdd, 0xdd}
	if len(node.preps) != 3 {
		t.Fatalf("%d preparations, want 3", len(node.preps))
	}
	for _, p := range node.preps {
		if got := p.FeeRecipient[19]; got != wantFee[p.ValidatorIndex] {
			t.Errorf("validator %d prepared fee recipient ..%02x, want ..%02x", p.ValidatorIndex, got, wantFee[p.ValidatorIndex])
		}
	}

	if err := s.signRegistrations(); err != nil {
		t.Fatal(err)
	}
	s.submitRegistrations(ctx)
	if len(node.regs) != 2 {
		t.Fatalf("%d registrations, want 2 (validator 1's builder is off)", len(node.regs))
	}
	want := map[phase0.BLSPubKey][2]uint64{pks[0]: {0xaa, 45_000_000}, pks[2]: {0xdd, 30_000_000}}
	for _, r := range node.regs {
		m := r.V1.Message
		w, ok := want[m.Pubkey]
		if !ok || uint64(m.FeeRecipient[19]) != w[0] || m.GasLimit != w[1] {
			t.Errorf("registration %#x: fee ..%02x gas %d, want %v", m.Pubkey[:4], m.FeeRecipient[19], m.GasLimit, w)
		}
	}

	wantBoost := []uint64{200, 0, 50}
	wantGraffiti := []string{"zero", "default", "default"}
	for i := range pks {
		s.propose(ctx, phase0.Slot(10+i), phase0.ValidatorIndex(i))
	}
	if len(node.opts) != 3 {
		t.Fatalf("%d produceBlockV3 calls, want 3", len(node.opts))
	}
	for i, o := range node.opts {
		if o.BuilderBoostFactor == nil || *o.BuilderBoostFactor != wantBoost[i] {
			t.Errorf("validator %d boost factor %v, want %d", i, o.BuilderBoostFactor, wantBoost[i])
		}
		if g := strings.TrimRight(string(o.Graffiti[:]), "\x00"); g != wantGraffiti[i] {
			t.Errorf("validator %d graffiti %q, want %q", i, g, wantGraffiti[i])
		}
	}
}

// Without a config the options apply to every validator, as before.
func TestProposerConfigAbsent(t *testing.T) {
	s, node, _ := proposerService(t, "")
	s.prepareProposers(context.Background())
	for _, p := range node.preps {
		if p.FeeRecipient[19] != 1 {
			t.Errorf("validator %d fee recipient %x, want the option's", p.ValidatorIndex, p.FeeRecipient)
		}
	}
	s.propose(context.Background(), 3, 0)
	if o := node.opts[0]; *o.BuilderBoostFactor != 100 || string(o.Graffiti[:5]) != "flags" {
		t.Errorf("boost %d graffiti %q, want the options'", *o.BuilderBoostFactor, o.Graffiti[:5])
	}
}

// A builder bid below min_bid is dropped for a local block (a second request with boost 0);
// one at or above it is kept.
func TestProposerConfigMinBid(t *testing.T) {
	cfg := "default:\n  builder:\n    min_bid: \"0.1\"\n\"%#x\": {}\n\"%#x\": {}\n"
	for _, c := range []struct {
		bid   string
		calls int
	}{{"99999999999999999", 2}, {"100000000000000000", 1}} {
		s, node, _ := proposerService(t, cfg)
		node.bid, _ = new(big.Int).SetString(c.bid, 10)
		s.propose(context.Background(), 5, 0)
		if len(node.opts) != c.calls {
			t.Errorf("bid %s wei: %d produceBlockV3 calls, want %d", c.bid, len(node.opts), c.calls)
			continue
		}
		if c.calls == 2 && *node.opts[1].BuilderBoostFactor != 0 {
			t.Errorf("bid %s wei: second call boost %d, want 0", c.bid, *node.opts[1].BuilderBoostFactor)
		}
	}
}

// A reload with a key the client does not hold is refused and the old config stays; a good one
// replaces it and marks the registrations for re-signing.
func TestSetProposerConfigKeepsOldOnBadConfig(t *testing.T) {
	s, node, _ := proposerService(t, threeValidators)
	stranger, err := propconfig.Parse([]byte(`"0x` + strings.Repeat("ab", 48) + "\":\n  fee_recipient: \"0x00000000000000000000000000000000000000ee\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.regsStale = false
	s.mu.Unlock()
	if err := s.SetProposerConfig(stranger); !errors.Is(err, propconfig.ErrUnknownPubkey) {
		t.Fatalf("config for a key not held: %v, want ErrUnknownPubkey", err)
	}
	s.prepareProposers(context.Background())
	if node.preps[0].FeeRecipient[19] != 0xaa || s.regsStale {
		t.Errorf("after a refused reload: fee ..%02x stale %v, want the old config's ..aa and no re-signing", node.preps[0].FeeRecipient[19], s.regsStale)
	}
	good, err := propconfig.Parse([]byte("default:\n  fee_recipient: \"0x00000000000000000000000000000000000000ee\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetProposerConfig(good); err != nil {
		t.Fatal(err)
	}
	s.prepareProposers(context.Background())
	if node.preps[0].FeeRecipient[19] != 0xee || !s.regsStale {
		t.Errorf("after a good reload: fee ..%02x stale %v, want ..ee and re-signing", node.preps[0].FeeRecipient[19], s.regsStale)
	}
}

// Run refuses a config given with WithProposerConfig that names a key it did not load.
func TestHoldKeysChecksInitialConfig(t *testing.T) {
	c, err := propconfig.Parse([]byte(`"0x` + strings.Repeat("cd", 48) + "\":\n  gas_limit: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), WithBeaconNode("http://x"), WithKeystores("/k", "pw"), WithDatabase("/db"), WithProposerConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.holdKeys([]phase0.BLSPubKey{{1}}); !errors.Is(err, propconfig.ErrUnknownPubkey) {
		t.Errorf("holdKeys: %v, want ErrUnknownPubkey", err)
	}
}
