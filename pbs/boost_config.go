package pbs

import (
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"gopkg.in/yaml.v2"
)

// RelayPolicy is what one validator's proposals use: the relays getHeader asks and its
// registrations go to, and the least bid it takes (mev-boost's -min-bid).
type RelayPolicy struct {
	Relays []RelayEntry
	// MinBid in wei; nil takes any non-zero bid.
	MinBid *uint256.Int
}

// RelayConfig is the sidecar's relay sets: a default policy, and per-validator policies that
// replace it for the proposers they name (mev-boost's proposer configuration file).
type RelayConfig struct {
	Default   RelayPolicy
	Proposers map[phase0.BLSPubKey]RelayPolicy
}

// policy is the policy of pubkey.
func (c *RelayConfig) policy(pubkey phase0.BLSPubKey) RelayPolicy {
	if p, ok := c.Proposers[pubkey]; ok {
		return p
	}
	return c.Default
}

func (c *RelayConfig) validate() error {
	if len(c.Default.Relays) == 0 {
		return fmt.Errorf("no default relay: --relays or default_config.builder_relays")
	}
	for pk, p := range c.Proposers {
		if len(p.Relays) == 0 {
			return fmt.Errorf("proposer %#x: no relay", pk[:])
		}
	}
	return nil
}

// relayFile is the YAML (or JSON, which YAML reads too) form of a RelayConfig. Its names are
// those of mev-boost's proposer configuration: builder_relays_groups, default_config and
// proposer_config, whose builder_relays lists relay URLs or group names.
type relayFile struct {
	Groups    map[string][]string   `yaml:"builder_relays_groups"`
	Default   filePolicy            `yaml:"default_config"`
	Proposers map[string]filePolicy `yaml:"proposer_config"`
}

type filePolicy struct {
	Relays []string `yaml:"builder_relays"`
	// MinBid is in ETH, as --min-bid ("0.05").
	MinBid *string `yaml:"min_bid"`
}

// LoadRelayConfig reads the relay-set file at path; see ParseRelayConfig.
func LoadRelayConfig(path string, fallback RelayPolicy) (RelayConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return RelayConfig{}, fmt.Errorf("relay config: %w", err)
	}
	c, err := ParseRelayConfig(data)
	if err != nil {
		return RelayConfig{}, fmt.Errorf("relay config %s: %w", path, err)
	}
	return c.withFallback(fallback)
}

// withFallback fills what the file left out from fallback (the command line's --relays and
// --min-bid): the default relays and min-bid, then each proposer's from the default.
func (c RelayConfig) withFallback(fallback RelayPolicy) (RelayConfig, error) {
	if len(c.Default.Relays) == 0 {
		c.Default.Relays = fallback.Relays
	}
	if c.Default.MinBid == nil {
		c.Default.MinBid = fallback.MinBid
	}
	for pk, p := range c.Proposers {
		if len(p.Relays) == 0 {
			p.Relays = c.Default.Relays
		}
		if p.MinBid == nil {
			p.MinBid = c.Default.MinBid
		}
		c.Proposers[pk] = p
	}
	return c, c.validate()
}

// ParseRelayConfig reads a relay-set file (YAML or JSON), for example:
//
//	builder_relays_groups:
//	  fast: ["http://0xRELAYKEY@relay-a:18550", "http://0xRELAYKEY@relay-b:18550#quic=relay-b:9000@PEERID"]
//	default_config:
//	  builder_relays: [fast]
//	  min_bid: "0.01"
//	proposer_config:
//	  "0xVALIDATORKEY":
//	    builder_relays: ["http://0xRELAYKEY@relay-c:18550"]
//	    min_bid: "0.05"
//
// A proposer without builder_relays or min_bid takes the default's. Unknown fields are errors
// (a misspelt key must not silently change where blocks come from). A relay set left empty is
// filled by the caller (LoadRelayConfig's fallback).
func ParseRelayConfig(data []byte) (RelayConfig, error) {
	var f relayFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return RelayConfig{}, err
	}
	groups := map[string][]RelayEntry{}
	for name, urls := range f.Groups {
		if len(urls) == 0 {
			return RelayConfig{}, fmt.Errorf("builder_relays_groups.%s is empty", name)
		}
		for _, u := range urls {
			e, err := ParseRelayURL(u)
			if err != nil {
				return RelayConfig{}, fmt.Errorf("builder_relays_groups.%s: %w", name, err)
			}
			groups[name] = append(groups[name], e)
		}
	}
	policy := func(where string, p filePolicy) (RelayPolicy, error) {
		var out RelayPolicy
		seen := map[string]bool{}
		for _, s := range p.Relays {
			es, ok := groups[s]
			if !ok {
				e, err := ParseRelayURL(s)
				if err != nil {
					return out, fmt.Errorf("%s.builder_relays: %q is neither a group nor a relay URL: %w", where, s, err)
				}
				es = []RelayEntry{e}
			}
			for _, e := range es {
				if k := e.String(); !seen[k] {
					seen[k] = true
					out.Relays = append(out.Relays, e)
				}
			}
		}
		if p.MinBid != nil {
			v, err := ParseETH(*p.MinBid)
			if err != nil {
				return out, fmt.Errorf("%s.min_bid: %w", where, err)
			}
			out.MinBid = v
		}
		return out, nil
	}
	var c RelayConfig
	var err error
	if c.Default, err = policy("default_config", f.Default); err != nil {
		return RelayConfig{}, err
	}
	c.Proposers = make(map[phase0.BLSPubKey]RelayPolicy, len(f.Proposers))
	for s, p := range f.Proposers {
		var pk phase0.BLSPubKey
		if err := hexTo(pk[:], s); err != nil {
			return RelayConfig{}, fmt.Errorf("proposer_config: key %q: %w", s, err)
		}
		if _, dup := c.Proposers[pk]; dup {
			return RelayConfig{}, fmt.Errorf("proposer_config: %s twice", s)
		}
		if c.Proposers[pk], err = policy("proposer_config."+s, p); err != nil {
			return RelayConfig{}, err
		}
	}
	return c, nil
}

// ParseETH reads a non-negative decimal amount of ETH (at most 18 decimals) as wei.
func ParseETH(s string) (*uint256.Int, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() < 0 {
		return nil, fmt.Errorf("%q is not a non-negative amount of ETH", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%q has more than 18 decimals", s)
	}
	v, overflow := uint256.FromBig(r.Num())
	if overflow {
		return nil, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}
