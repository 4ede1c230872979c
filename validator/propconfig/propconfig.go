// Package propconfig parses the validator client's proposer config file: per-validator fee
// recipient, gas limit, graffiti and builder settings, keyed by BLS public key, with a default
// section. It owns the file format and its checks; it does not know which keys a client holds
// (Config.Check takes them) nor how the settings reach the beacon node (validator/client).
//
// The file is YAML:
//
//	default:
//	  fee_recipient: "0x00000000000000000000000000000000000000aa"
//	  gas_limit: 36000000
//	  graffiti: "zkv"
//	  builder:
//	    enabled: true
//	    boost_factor: 100
//	    min_bid: "0.05"        # ETH; a builder payload worth less is replaced by a local one
//	"0x93247f2209abcacf57b75a51dafae777f9dd38bc7053d1af526f220a7489a6d3a2753e5f3e8b1cfe39b56f43611df74a":
//	  fee_recipient: "0x00000000000000000000000000000000000000bb"
//	  builder:
//	    enabled: false
//
// Every field is optional; a validator's missing field comes from default, and default's from
// the client's flags.
package propconfig

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"gopkg.in/yaml.v2"
)

// Settings are one section's values; a nil field is unset.
type Settings struct {
	FeeRecipient   *bellatrix.ExecutionAddress
	GasLimit       *uint64
	Graffiti       *[32]byte
	BuilderEnabled *bool
	// BoostFactor is produceBlockV3's builder_boost_factor (Beacon API): 0 always a local
	// block, 100 the better payload at face value.
	BoostFactor *uint64
	// MinBid is the least execution value, in wei, for which a builder payload is taken.
	MinBid *big.Int
}

// Config is a parsed proposer config file.
type Config struct {
	Default    Settings
	Validators map[phase0.BLSPubKey]Settings
}

// ErrUnknownPubkey is returned by Check for a section whose key the client does not hold.
var ErrUnknownPubkey = errors.New("proposer config: public key not among the loaded keystores")

// For is the settings of pk: its own section's fields, default's where it sets none.
func (c *Config) For(pk phase0.BLSPubKey) Settings {
	s := c.Validators[pk]
	d := c.Default
	if s.FeeRecipient == nil {
		s.FeeRecipient = d.FeeRecipient
	}
	if s.GasLimit == nil {
		s.GasLimit = d.GasLimit
	}
	if s.Graffiti == nil {
		s.Graffiti = d.Graffiti
	}
	if s.BuilderEnabled == nil {
		s.BuilderEnabled = d.BuilderEnabled
	}
	if s.BoostFactor == nil {
		s.BoostFactor = d.BoostFactor
	}
	if s.MinBid == nil {
		s.MinBid = d.MinBid
	}
	return s
}

// Check refuses a section for a key that is not in held: a typo there would otherwise send that
// validator's fees to the default address without a word.
func (c *Config) Check(held []phase0.BLSPubKey) error {
	set := make(map[phase0.BLSPubKey]bool, len(held))
	for _, pk := range held {
		set[pk] = true
	}
	for pk := range c.Validators {
		if !set[pk] {
			return fmt.Errorf("%w: %#x", ErrUnknownPubkey, pk)
		}
	}
	return nil
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("proposer config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// entry is one section as written. Numbers are read as text and parsed here: yaml.v2 reads
// 18446744073709551616 as a float and converts it to uint64 without an error.
type entry struct {
	FeeRecipient *string       `yaml:"fee_recipient"`
	GasLimit     *string       `yaml:"gas_limit"`
	Graffiti     *string       `yaml:"graffiti"`
	Builder      *builderEntry `yaml:"builder"`
}

type builderEntry struct {
	Enabled     *bool   `yaml:"enabled"`
	BoostFactor *string `yaml:"boost_factor"`
	MinBid      *string `yaml:"min_bid"`
}

// Parse parses a proposer config file strictly: unknown keys, repeated keys, malformed values
// and contradictions are errors that name the line (YAML errors) or the section and key.
func Parse(data []byte) (*Config, error) {
	var raw map[string]*entry
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("proposer config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 || raw == nil {
		return nil, errors.New("proposer config: empty file")
	}
	c := &Config{Validators: map[phase0.BLSPubKey]Settings{}}
	for key, e := range raw {
		if e == nil {
			return nil, fmt.Errorf("proposer config: section %s is empty", key)
		}
		s, err := e.settings()
		if err != nil {
			return nil, fmt.Errorf("proposer config: section %s: %w", key, err)
		}
		if key == "default" {
			c.Default = s
			continue
		}
		pk, err := parsePubkey(key)
		if err != nil {
			return nil, fmt.Errorf("proposer config: section %q: %w", key, err)
		}
		if _, dup := c.Validators[pk]; dup {
			return nil, fmt.Errorf("proposer config: public key %#x has two sections", pk)
		}
		c.Validators[pk] = s
	}
	return c, nil
}

func parsePubkey(key string) (phase0.BLSPubKey, error) {
	var pk phase0.BLSPubKey
	b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(key), "0x"))
	if err != nil || len(b) != len(pk) || !strings.HasPrefix(strings.ToLower(key), "0x") {
		return pk, errors.New("want \"default\" or a public key (0x + 48 bytes of hex)")
	}
	copy(pk[:], b)
	return pk, nil
}

func (e *entry) settings() (Settings, error) {
	var s Settings
	if e.FeeRecipient != nil {
		v := *e.FeeRecipient
		b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(v), "0x"))
		if err != nil || len(b) != 20 || !strings.HasPrefix(strings.ToLower(v), "0x") {
			return s, fmt.Errorf("fee_recipient %q is not 0x + 20 bytes of hex", v)
		}
		a := bellatrix.ExecutionAddress(b)
		s.FeeRecipient = &a
	}
	if e.GasLimit != nil {
		g, err := strconv.ParseUint(*e.GasLimit, 10, 64)
		if err != nil || g == 0 {
			return s, fmt.Errorf("gas_limit %q: want a positive whole number below 2^64", *e.GasLimit)
		}
		s.GasLimit = &g
	}
	if e.Graffiti != nil {
		if len(*e.Graffiti) > 32 {
			return s, fmt.Errorf("graffiti is %d bytes, at most 32 fit in a block", len(*e.Graffiti))
		}
		var g [32]byte
		copy(g[:], *e.Graffiti)
		s.Graffiti = &g
	}
	if b := e.Builder; b != nil {
		s.BuilderEnabled = b.Enabled
		if b.BoostFactor != nil {
			f, err := strconv.ParseUint(*b.BoostFactor, 10, 64)
			if err != nil {
				return s, fmt.Errorf("builder: boost_factor %q out of range: want a whole number from 0 to 2^64-1 (100 compares payloads at face value)", *b.BoostFactor)
			}
			s.BoostFactor = &f
		}
		if b.Enabled != nil && !*b.Enabled && s.BoostFactor != nil && *s.BoostFactor != 0 {
			return s, fmt.Errorf("builder: boost_factor %d with enabled: false (a disabled builder means boost_factor 0)", *s.BoostFactor)
		}
		if b.MinBid != nil {
			wei, err := parseETH(*b.MinBid)
			if err != nil {
				return s, fmt.Errorf("builder: min_bid %q: %w", *b.MinBid, err)
			}
			s.MinBid = wei
		}
	}
	return s, nil
}

var weiPerETH = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// parseETH reads a non-negative decimal amount of ETH as wei; more than 18 decimals is an error.
func parseETH(v string) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(v))
	if !ok || strings.ContainsAny(v, "/eE") {
		return nil, errors.New("want a decimal amount of ETH such as 0.05")
	}
	if r.Sign() < 0 {
		return nil, errors.New("negative")
	}
	r.Mul(r, new(big.Rat).SetInt(weiPerETH))
	if !r.IsInt() {
		return nil, errors.New("finer than 1 wei")
	}
	return new(big.Int).Set(r.Num()), nil
}
