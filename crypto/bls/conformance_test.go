package bls

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"

	"github.com/zkvlabs/zkv/internal/testvectors"
)

// TestConformance runs every file of every folder of the Ethereum BLS vectors
// (ethereum/bls12-381-tests v0.1.2, plus the generator's later extra decoding cases). A folder
// or file it does not know fails the test rather than being skipped.
func TestConformance(t *testing.T) {
	counts := map[string]int{}
	total := 0
	for _, root := range []string{"bls", "bls-head-extra"} {
		dir := testvectors.Dir(t, root)
		folders, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range folders {
			if !f.IsDir() {
				continue
			}
			run, ok := conformanceRunners[f.Name()]
			if !ok {
				t.Errorf("%s/%s: no runner for this folder", root, f.Name())
				continue
			}
			files, err := filepath.Glob(filepath.Join(dir, f.Name(), "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Errorf("%s/%s: no vectors", root, f.Name())
			}
			for _, file := range files {
				name := root + "/" + f.Name() + "/" + filepath.Base(file)
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var c struct {
					Input  json.RawMessage `json:"input"`
					Output json.RawMessage `json:"output"`
				}
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if err := run(c.Input, c.Output); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				counts[root+"/"+f.Name()]++
				total++
			}
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-36s %3d cases", k, counts[k])
	}
	t.Logf("total: %d cases", total)
	if total < 104 {
		t.Errorf("ran %d cases, want all 104 (98 release + 6 extra)", total)
	}
}

func unhex(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimPrefix(s, "0x"))
}

func unhexAll(ss []string) ([][]byte, error) {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := unhex(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// decodePubkeys decodes keys; a key that does not decode makes the whole check false, as the
// vectors expect (KeyValidate).
func decodePubkeys(ss []string) ([]*PublicKey, bool) {
	out := make([]*PublicKey, len(ss))
	for i, s := range ss {
		b, err := unhex(s)
		if err != nil {
			return nil, false
		}
		if out[i], err = PublicKeyFromBytes(b); err != nil {
			return nil, false
		}
	}
	return out, true
}

func decodeSig(s string) (*Signature, bool) {
	b, err := unhex(s)
	if err != nil {
		return nil, false
	}
	sig, err := SignatureFromBytes(b)
	return sig, err == nil
}

func wantBool(out json.RawMessage, got bool) error {
	var want bool
	if err := json.Unmarshal(out, &want); err != nil {
		return fmt.Errorf("output: %v", err)
	}
	if got != want {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

var conformanceRunners = map[string]func(in, out json.RawMessage) error{
	"sign": func(in, out json.RawMessage) error {
		var c struct{ Privkey, Message string }
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		var want *string
		if err := json.Unmarshal(out, &want); err != nil {
			return err
		}
		skb, _ := unhex(c.Privkey)
		msg, _ := unhex(c.Message)
		sk, err := SecretKeyFromBytes(skb)
		if want == nil {
			if err == nil {
				return fmt.Errorf("secret key accepted, want refused")
			}
			return nil
		}
		if err != nil {
			return err
		}
		got := sk.Sign(msg).Bytes()
		if "0x"+hex.EncodeToString(got[:]) != *want {
			return fmt.Errorf("signature %x, want %s", got, *want)
		}
		return nil
	},
	"verify": func(in, out json.RawMessage) error {
		var c struct{ Pubkey, Message, Signature string }
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		msg, _ := unhex(c.Message)
		pks, okPK := decodePubkeys([]string{c.Pubkey})
		sig, okSig := decodeSig(c.Signature)
		return wantBool(out, okPK && okSig && Verify(pks[0], msg, sig))
	},
	"aggregate": func(in, out json.RawMessage) error {
		var c []string
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		var want *string
		if err := json.Unmarshal(out, &want); err != nil {
			return err
		}
		sigs := make([]*Signature, len(c))
		for i, s := range c {
			var ok bool
			if sigs[i], ok = decodeSig(s); !ok {
				return fmt.Errorf("signature %d does not decode", i)
			}
		}
		agg, err := Aggregate(sigs)
		if want == nil {
			if err == nil {
				return fmt.Errorf("aggregate of %d signatures accepted, want refused", len(c))
			}
			return nil
		}
		if err != nil {
			return err
		}
		got := agg.Bytes()
		if "0x"+hex.EncodeToString(got[:]) != *want {
			return fmt.Errorf("aggregate %x, want %s", got, *want)
		}
		return nil
	},
	"fast_aggregate_verify": func(in, out json.RawMessage) error {
		var c struct {
			Pubkeys            []string
			Message, Signature string
		}
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		msg, _ := unhex(c.Message)
		pks, okPK := decodePubkeys(c.Pubkeys)
		sig, okSig := decodeSig(c.Signature)
		return wantBool(out, okPK && okSig && FastAggregateVerify(pks, msg, sig))
	},
	"aggregate_verify": func(in, out json.RawMessage) error {
		var c struct {
			Pubkeys, Messages []string
			Signature         string
		}
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		msgs, err := unhexAll(c.Messages)
		if err != nil {
			return err
		}
		pks, okPK := decodePubkeys(c.Pubkeys)
		sig, okSig := decodeSig(c.Signature)
		return wantBool(out, okPK && okSig && AggregateVerify(pks, msgs, sig))
	},
	"batch_verify": func(in, out json.RawMessage) error {
		var c struct{ Pubkeys, Messages, Signatures []string }
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		msgs, err := unhexAll(c.Messages)
		if err != nil {
			return err
		}
		pks, okPK := decodePubkeys(c.Pubkeys)
		sets := make([]SignatureSet, len(c.Signatures))
		okSig := len(msgs) == len(c.Signatures) && len(c.Pubkeys) == len(c.Signatures)
		for i := range c.Signatures {
			sig, ok := decodeSig(c.Signatures[i])
			okSig = okSig && ok
			if okSig && okPK {
				sets[i] = SignatureSet{PublicKey: pks[i], Message: msgs[i], Signature: sig}
			}
		}
		got := okPK && okSig && BatchVerify(sets)
		if okPK && okSig {
			// The streaming verifier must agree, and name bad sets exactly when the batch fails.
			v := NewVerifier(len(sets))
			for _, s := range sets {
				v.Add(s)
			}
			if bad := v.Invalid(); (len(bad) == 0) != got {
				return fmt.Errorf("BatchVerify=%v but Invalid()=%v", got, bad)
			}
		}
		return wantBool(out, got)
	},
	"deserialization_G1": deserialization("pubkey", func(b []byte) error { _, err := decodeG1(b); return err }),
	"deserialization_G2": deserialization("signature", func(b []byte) error { _, err := decodeG2(b); return err }),
	"hash_to_G2": func(in, out json.RawMessage) error {
		var c struct{ Msg string }
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		var want struct{ X, Y string }
		if err := json.Unmarshal(out, &want); err != nil {
			return err
		}
		// RFC 9380 section 8.8.2 suite test vectors use their own DST, not the POP one.
		p, err := bls12381.HashToG2([]byte(c.Msg), []byte("QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"))
		if err != nil {
			return err
		}
		if got := e2Hex(&p.X); got != want.X {
			return fmt.Errorf("x = %s, want %s", got, want.X)
		}
		if got := e2Hex(&p.Y); got != want.Y {
			return fmt.Errorf("y = %s, want %s", got, want.Y)
		}
		return nil
	},
}

func e2Hex(e *bls12381.E2) string {
	a0, a1 := e.A0.Bytes(), e.A1.Bytes()
	return "0x" + hex.EncodeToString(a0[:fp.Bytes]) + ",0x" + hex.EncodeToString(a1[:fp.Bytes])
}

// deserialization runs a pure decoding case: input {field: hex}, output whether it decodes.
func deserialization(field string, decode func([]byte) error) func(in, out json.RawMessage) error {
	return func(in, out json.RawMessage) error {
		var c map[string]string
		if err := json.Unmarshal(in, &c); err != nil {
			return err
		}
		s, ok := c[field]
		if !ok {
			return fmt.Errorf("input has no %q", field)
		}
		b, err := unhex(s)
		if err != nil {
			return wantBool(out, false)
		}
		return wantBool(out, decode(b) == nil)
	}
}
