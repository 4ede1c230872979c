package propconfig

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

const (
	pkA = "0x93247f2209abcacf57b75a51dafae777f9dd38bc7053d1af526f220a7489a6d3a2753e5f3e8b1cfe39b56f43611df74a"
	pkB = "0xa572cbea904d67468808c8eb50a9450c9721db309128012543902d0ac358a62ae28f75bb8f1c7c42c39a8c5529bf0f4e"
)

func pubkey(t *testing.T, s string) phase0.BLSPubKey {
	t.Helper()
	pk, err := parsePubkey(s)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// A validator's section overrides default field by field; a key without a section gets default.
func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(`
default:
  fee_recipient: "0x00000000000000000000000000000000000000aa"
  gas_limit: 30000000
  graffiti: "zkv default"
  builder:
    enabled: true
    boost_factor: 90
    min_bid: "0.05"
"` + pkA + `":
  fee_recipient: "0x00000000000000000000000000000000000000BB"
  graffiti: ""
  builder:
    enabled: false
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.For(pubkey(t, pkA))
	if a.FeeRecipient == nil || a.FeeRecipient[19] != 0xbb {
		t.Errorf("A fee recipient %v, want ..bb", a.FeeRecipient)
	}
	if a.GasLimit == nil || *a.GasLimit != 30_000_000 {
		t.Errorf("A gas limit %v, want default's 30000000", a.GasLimit)
	}
	if a.Graffiti == nil || *a.Graffiti != ([32]byte{}) {
		t.Errorf("A graffiti %v, want empty (its own)", a.Graffiti)
	}
	if a.BuilderEnabled == nil || *a.BuilderEnabled {
		t.Errorf("A builder enabled %v, want false", a.BuilderEnabled)
	}
	b := c.For(pubkey(t, pkB))
	if b.FeeRecipient == nil || b.FeeRecipient[19] != 0xaa || *b.BoostFactor != 90 || !*b.BuilderEnabled {
		t.Errorf("B %+v, want default's", b)
	}
	if want, _ := new(big.Int).SetString("50000000000000000", 10); b.MinBid == nil || b.MinBid.Cmp(want) != 0 {
		t.Errorf("B min bid %v, want %v wei", b.MinBid, want)
	}
	if g := string(b.Graffiti[:11]); g != "zkv default" {
		t.Errorf("B graffiti %q", g)
	}
	// An unquoted number parses as the same amount.
	c, err = Parse([]byte("default:\n  builder:\n    min_bid: 1\n"))
	if err != nil || c.Default.MinBid.Cmp(weiPerETH) != 0 {
		t.Errorf("min_bid 1: %v %v, want 1e18 wei", c, err)
	}
	// Only a default section, and only validators, are both fine.
	if _, err := Parse([]byte("default:\n  gas_limit: 1\n")); err != nil {
		t.Error(err)
	}
}

// Every kind of bad input is an error naming the line or the section and key.
func TestParseBad(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty file"},
		{"not a map", "- a\n- b\n", "line 1"},
		{"unknown key", "default:\n  fee_recipent: \"0x00\"\n", "line 2: field fee_recipent not found"},
		{"unknown builder key", "default:\n  builder:\n    boost: 1\n", "line 3: field boost not found"},
		{"repeated key", "default:\n  gas_limit: 1\n  gas_limit: 2\n", "line 3"},
		{"repeated section", "default: {gas_limit: 1}\ndefault: {gas_limit: 2}\n", "line 2"},
		{"same pubkey twice", `"` + pkA + `": {}` + "\n\"" + strings.ToUpper(pkA[:2]) + pkA[2:] + `": {}` + "\n", "two sections"},
		{"empty section", "default:\n", "section default is empty"},
		{"short fee recipient", "default:\n  fee_recipient: \"0x1234\"\n", `section default: fee_recipient "0x1234" is not 0x + 20 bytes`},
		{"fee recipient without 0x", "default:\n  fee_recipient: \"00000000000000000000000000000000000000aa\"\n", "fee_recipient"},
		{"fee recipient not hex", "default:\n  fee_recipient: \"0x000000000000000000000000000000000000zzzz\"\n", "fee_recipient"},
		{"zero gas limit", "default:\n  gas_limit: 0\n", `gas_limit "0": want a positive`},
		{"negative gas limit", "default:\n  gas_limit: -5\n", `gas_limit "-5"`},
		{"gas limit over 2^64", "default:\n  gas_limit: 18446744073709551616\n", "gas_limit"},
		{"gas limit not a number", "default:\n  gas_limit: [1]\n", "line 2"},
		{"long graffiti", "default:\n  graffiti: \"" + strings.Repeat("g", 33) + "\"\n", "graffiti is 33 bytes"},
		{"negative boost factor", "default:\n  builder:\n    boost_factor: -1\n", `boost_factor "-1" out of range`},
		{"boost factor over 2^64", "default:\n  builder:\n    boost_factor: 18446744073709551616\n", "boost_factor \"18446744073709551616\" out of range"},
		{"boost factor fraction", "default:\n  builder:\n    boost_factor: 1.5\n", "boost_factor \"1.5\" out of range"},
		{"boost factor not a number", "default:\n  builder:\n    boost_factor: lots\n", "boost_factor"},
		{"boost with builder disabled", "default:\n  builder:\n    enabled: false\n    boost_factor: 100\n", "boost_factor 100 with enabled: false"},
		{"enabled not a bool", "default:\n  builder:\n    enabled: maybe\n", "line 3"},
		{"negative min bid", "default:\n  builder:\n    min_bid: \"-0.1\"\n", `min_bid "-0.1": negative`},
		{"min bid below a wei", "default:\n  builder:\n    min_bid: \"0.0000000000000000001\"\n", "finer than 1 wei"},
		{"min bid fraction", "default:\n  builder:\n    min_bid: \"1/2\"\n", "decimal amount"},
		{"min bid exponent", "default:\n  builder:\n    min_bid: \"1e-2\"\n", "decimal amount"},
		{"min bid words", "default:\n  builder:\n    min_bid: \"a lot\"\n", "decimal amount"},
		{"short pubkey", "\"0x1234\":\n  gas_limit: 1\n", `section "0x1234": want "default" or a public key`},
		{"pubkey without 0x", "\"" + pkA[2:] + "\":\n  gas_limit: 1\n", "want \"default\" or a public key"},
		{"misspelt default", "defaults:\n  gas_limit: 1\n", `section "defaults"`},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (config %+v), want an error containing %q", c.name, err, cfg, c.want)
		}
	}
}

// Check refuses a section for a key the client does not hold, and names it.
func TestCheck(t *testing.T) {
	c, err := Parse([]byte(`"` + pkA + "\":\n  gas_limit: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check([]phase0.BLSPubKey{pubkey(t, pkA), pubkey(t, pkB)}); err != nil {
		t.Errorf("held: %v", err)
	}
	err = c.Check([]phase0.BLSPubKey{pubkey(t, pkB)})
	if !errors.Is(err, ErrUnknownPubkey) || !strings.Contains(err.Error(), pkA) {
		t.Errorf("not held: %v, want ErrUnknownPubkey naming %s", err, pkA)
	}
}

// Load names the file in its errors.
func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proposer.yaml")
	if _, err := Load(path); err == nil {
		t.Error("missing file loaded")
	}
	if err := os.WriteFile(path, []byte("default:\n  gas_limit: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad file: %v, want an error naming %s", err, path)
	}
	if err := os.WriteFile(path, []byte("default:\n  gas_limit: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path); err != nil || *c.Default.GasLimit != 7 {
		t.Errorf("good file: %v, %v", c, err)
	}
}

// FuzzParse: any input parses or is refused with an error, never a panic; a parsed config
// resolves every section, and its amounts and numbers are in range.
func FuzzParse(f *testing.F) {
	f.Add([]byte("default:\n  fee_recipient: \"0x00000000000000000000000000000000000000aa\"\n  gas_limit: 30000000\n  graffiti: \"g\"\n  builder:\n    enabled: true\n    boost_factor: 90\n    min_bid: \"0.05\"\n"))
	f.Add([]byte("\"" + pkA + "\":\n  builder:\n    enabled: false\n"))
	f.Add([]byte("default: {gas_limit: 0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		for pk := range c.Validators {
			s := c.For(pk)
			if s.GasLimit != nil && *s.GasLimit == 0 {
				t.Errorf("gas limit 0 accepted")
			}
			if s.MinBid != nil && s.MinBid.Sign() < 0 {
				t.Errorf("negative min bid accepted")
			}
			if s.BuilderEnabled != nil && !*s.BuilderEnabled && c.Validators[pk].BoostFactor != nil && *c.Validators[pk].BoostFactor != 0 {
				t.Errorf("boost factor with the builder off accepted")
			}
		}
	})
}
