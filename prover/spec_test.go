package prover

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRequestSpecRoundTrip(t *testing.T) {
	vs := newTestValidators(5)
	tr := testRegistry(t, 4, vs)
	req := testRequest(tr, vs, 2, 44, "m")
	spec := SpecFromRequest(&req)
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var back RequestSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Request()
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != req.Secret || got.Root != req.Root || got.SigningRoot != req.SigningRoot ||
		got.Path.Index != req.Path.Index || len(got.Path.Siblings) != 2 || got.Path.Siblings[1] != req.Path.Siblings[1] ||
		got.Weight != req.Weight || got.Epoch != req.Epoch || got.MinWeight != req.MinWeight {
		t.Fatal("request changed in a spec round trip")
	}
	if _, err := got.Statement(); err != nil {
		t.Fatal(err)
	}

	bls := RequestSpec{BLSSecret: "0x" + "00000000000000000000000000000000000000000000000000000000000000" + "01"}
	bls.Root, bls.SigningRoot, bls.Network = spec.Root, spec.SigningRoot, spec.Network
	r, err := bls.Request()
	if err != nil {
		t.Fatal(err)
	}
	if want := DeriveSecret([32]byte{31: 1}); r.Secret != want {
		t.Fatal("blsSecret not derived")
	}
	both := spec
	both.BLSSecret = bls.BLSSecret
	if _, err := both.Request(); !errors.Is(err, ErrBadInput) {
		t.Fatalf("both secrets: %v", err)
	}
	bad := spec
	bad.Siblings[0][1] = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001" // r
	if _, err := bad.Request(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-canonical sibling: %v", err)
	}
}

// A secret that does not parse is not repeated in the error, which ends up in logs: neither
// whole nor a digit of it.
func TestRequestSpecErrorsHideSecrets(t *testing.T) {
	const secret = "0x1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100fe" // 31 bytes: a valid field element
	cases := map[string]RequestSpec{
		"trailing newline":   {Secret: secret + "\n"},
		"too long":           {Secret: secret + "1d2c3b"},
		"bad digit":          {Secret: strings.Replace(secret, "4a", "4q", 1)},
		"bls trailing space": {BLSSecret: secret + "ab "},
		"bls short":          {BLSSecret: secret},
		"bls bad digit":      {BLSSecret: strings.Replace(secret, "4a", "4q", 1) + "ab"},
		"bls odd":            {BLSSecret: secret + "a"},
	}
	for name, spec := range cases {
		_, err := spec.Request()
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, secret[2:12]) || strings.Contains(msg, "q") {
			t.Errorf("%s: the error repeats the secret: %s", name, msg)
		}
	}
}
