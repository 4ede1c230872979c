package pbs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/pbs"
)

func TestParseRelayConfig(t *testing.T) {
	_, a := key(t)
	_, b := key(t)
	_, v := key(t)
	ra := fmt.Sprintf("http://%#x@relay-a:18550", a[:])
	rb := fmt.Sprintf("http://%#x@relay-b:18550#quic=relay-b:9000@%s", b[:], strings.Repeat("ab", 32))
	good := fmt.Sprintf(`
builder_relays_groups:
  both: [%q, %q]
default_config:
  builder_relays: [both]
  min_bid: "0.01"
proposer_config:
  "%#x":
    builder_relays: [%q, both]
`, ra, rb, v[:], rb)
	c, err := pbs.ParseRelayConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Default.Relays) != 2 || c.Default.MinBid.Dec() != "10000000000000000" || c.Default.Relays[1].QUICAddr != "relay-b:9000" {
		t.Fatalf("default: %+v", c.Default)
	}
	// The proposer names relay b twice (itself and in the group): once is enough.
	if p := c.Proposers[v]; len(p.Relays) != 2 || p.Relays[0].Pubkey != b || p.Relays[1].Pubkey != a || p.MinBid != nil {
		t.Fatalf("proposer: %+v", p)
	}
	// JSON is read too.
	js := fmt.Sprintf(`{"default_config": {"builder_relays": [%q], "min_bid": "0"}}`, ra)
	if c, err := pbs.ParseRelayConfig([]byte(js)); err != nil || len(c.Default.Relays) != 1 || !c.Default.MinBid.IsZero() {
		t.Fatalf("JSON: %+v %v", c, err)
	}
	for name, bad := range map[string]string{
		"unknown field":     `default_config: {builder_relay: []}`,
		"bad relay":         `default_config: {builder_relays: ["http://relay-a:1"]}`,
		"unknown group":     `default_config: {builder_relays: ["fast"]}`,
		"empty group":       `builder_relays_groups: {fast: []}`,
		"bad min bid":       fmt.Sprintf(`default_config: {builder_relays: [%q], min_bid: "-1"}`, ra),
		"bad proposer key":  `proposer_config: {"0x1234": {min_bid: "1"}}`,
		"bad quic fragment": fmt.Sprintf(`default_config: {builder_relays: ["http://%#x@relay-a:1#quic=relay-a:9"]}`, a[:]),
		"not yaml":          `[`,
	} {
		if _, err := pbs.ParseRelayConfig([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A proposer's set replaces the default relays for getHeader and registrations, and its own
// min-bid applies; the others use the default. A reload changes the sets from the next
// request; an invalid one is refused and the previous sets stay.
func TestBoostRelaySets(t *testing.T) {
	ctx := t.Context()
	parent := phase0.Hash32{7}
	def := newHeaderRelay(t, "good", 5, parent, 100, 1)
	own := newHeaderRelay(t, "good", 5, parent, 50, 2)
	_, special := key(t)
	_, other := key(t)
	b, err := pbs.NewBoost(ctx, pbs.BoostConfig{Relays: []pbs.RelayEntry{def.entry}, GenesisForkVersion: testFork,
		Proposers: map[phase0.BLSPubKey]pbs.RelayPolicy{special: {Relays: []pbs.RelayEntry{own.entry}, MinBid: uint256.NewInt(40)}}})
	if err != nil {
		t.Fatal(err)
	}
	value := func(pk phase0.BLSPubKey) uint64 {
		t.Helper()
		bid, err := b.GetHeader(ctx, 5, parent, pk)
		if errors.Is(err, pbs.ErrNoBid) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _ := bid.Value()
		return v.Uint64()
	}
	if v := value(special); v != 50 || len(def.headerCalls()) != 0 {
		t.Fatalf("the special proposer got %d (default relay asked %d times), want 50 from its own relay", v, len(def.headerCalls()))
	}
	if v := value(other); v != 100 || len(own.headerCalls()) != 1 {
		t.Fatalf("another proposer got %d (own relay asked %d times), want 100 from the default relay", v, len(own.headerCalls()))
	}

	// Registrations follow the sets.
	reg := func(pk phase0.BLSPubKey) *builderapiv1.SignedValidatorRegistration {
		return &builderapiv1.SignedValidatorRegistration{Message: &builderapiv1.ValidatorRegistration{Pubkey: pk, FeeRecipient: bellatrix.ExecutionAddress{1},
			GasLimit: 30_000_000, Timestamp: time.Unix(1, 0)}}
	}
	if err := b.RegisterValidators(ctx, []*builderapiv1.SignedValidatorRegistration{reg(special), reg(other)}); err != nil {
		t.Fatal(err)
	}
	if !own.isRegistered(special) || own.isRegistered(other) || !def.isRegistered(other) || def.isRegistered(special) {
		t.Fatal("registrations did not follow the relay sets")
	}

	// Reload: the special proposer's min-bid goes above its relay's bid.
	if err := b.SetRelayConfig(pbs.RelayConfig{Default: pbs.RelayPolicy{Relays: []pbs.RelayEntry{def.entry}},
		Proposers: map[phase0.BLSPubKey]pbs.RelayPolicy{special: {Relays: []pbs.RelayEntry{own.entry}, MinBid: uint256.NewInt(60)}}}); err != nil {
		t.Fatal(err)
	}
	if v := value(special); v != 0 {
		t.Fatalf("bid of 50 taken under a min-bid of 60")
	}
	// An invalid config (no default relay) is refused; the previous one stays.
	if err := b.SetRelayConfig(pbs.RelayConfig{}); err == nil {
		t.Fatal("a config without relays was accepted")
	}
	if v := value(other); v != 100 {
		t.Fatalf("after a refused reload: %d", v)
	}
}

// LoadRelayConfig fills what the file leaves out from the command line's relays and min-bid.
func TestLoadRelayConfigFallback(t *testing.T) {
	_, a := key(t)
	_, v := key(t)
	e, _ := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@relay-a:1", a[:]))
	path := filepath.Join(t.TempDir(), "relays.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, "proposer_config:\n  \"%#x\": {min_bid: \"1\"}\n", v[:]), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := pbs.LoadRelayConfig(path, pbs.RelayPolicy{Relays: []pbs.RelayEntry{e}, MinBid: uint256.NewInt(5)})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Proposers[v]; len(c.Default.Relays) != 1 || c.Default.MinBid.Uint64() != 5 || len(p.Relays) != 1 || p.MinBid.Dec() != "1000000000000000000" {
		t.Fatalf("%+v", c)
	}
	if _, err := pbs.LoadRelayConfig(path, pbs.RelayPolicy{}); err == nil {
		t.Fatal("a config with no relay anywhere was accepted")
	}
	if _, err := pbs.LoadRelayConfig(filepath.Join(t.TempDir(), "missing"), pbs.RelayPolicy{Relays: []pbs.RelayEntry{e}}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
