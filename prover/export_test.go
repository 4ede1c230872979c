package prover

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestSnarkjsRoundTrip writes the verifying key and the proofs in snarkjs's JSON, parses them
// back, and verifies with this package's pairing code.
func TestSnarkjsRoundTrip(t *testing.T) {
	vk := mustKeys(t).VerifyingKey()
	claims := mustClaims(t)

	vkJSON, err := json.Marshal(vk.Snarkjs())
	if err != nil {
		t.Fatal(err)
	}
	var sv SnarkjsVerifyingKey
	if err := json.Unmarshal(vkJSON, &sv); err != nil {
		t.Fatal(err)
	}
	vk2, err := VerifyingKeyFromSnarkjs(&sv)
	if err != nil {
		t.Fatal(err)
	}
	parsed := make([]Claim, len(claims))
	for i := range claims {
		pj, err := json.Marshal(claims[i].Proof.Snarkjs(&claims[i].Statement))
		if err != nil {
			t.Fatal(err)
		}
		var sp SnarkjsProof
		if err := json.Unmarshal(pj, &sp); err != nil {
			t.Fatal(err)
		}
		if parsed[i], err = ClaimFromSnarkjs(&sp, nil); err != nil {
			t.Fatal(err)
		}
		if parsed[i] != claims[i] {
			t.Fatalf("claim %d changed in a round trip", i)
		}
		if err := vk2.VerifyPairing(&parsed[i].Proof, &parsed[i].Statement); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	if err := vk2.BatchVerifyPairing(parsed); err != nil {
		t.Fatal(err)
	}

	// The snarkjs layout itself: G2 as [[x.c0, x.c1], [y.c0, y.c1], ["1","0"]], real part first.
	sp := claims[0].Proof.Snarkjs(&claims[0].Statement)
	if sp.PiB[0][0] != claims[0].Proof.B.X.A0.String() || sp.PiB[2] != [2]string{"1", "0"} || sp.PiA[2] != "1" {
		t.Fatalf("unexpected snarkjs layout: %v", sp.PiB)
	}
	if len(sv.IC) != NumPublic+1 || sv.NPublic != NumPublic {
		t.Fatal("wrong number of IC points")
	}

	bad := []func(p *SnarkjsProof){
		func(p *SnarkjsProof) { p.PiB[0][0], p.PiB[0][1] = p.PiB[0][1], p.PiB[0][0] }, // swapped Fp2 order
		func(p *SnarkjsProof) { p.PiA[1] = p.PiA[0] },                                 // off the curve
		func(p *SnarkjsProof) { p.PiA[2] = "0" },                                      // not affine
		func(p *SnarkjsProof) { p.PublicSignals[1] = "-1" },
		func(p *SnarkjsProof) { p.PublicSignals = p.PublicSignals[:5] },
		func(p *SnarkjsProof) {
			p.PublicSignals[0] = "21888242871839275222246405745257275088548364400416034343698204186575808495617" // r
		},
		// One value, one encoding: no sign, no leading zeros, no separators.
		func(p *SnarkjsProof) { p.PublicSignals[1] = "+" + p.PublicSignals[1] },
		func(p *SnarkjsProof) { p.PublicSignals[1] = "00" + p.PublicSignals[1] },
		func(p *SnarkjsProof) { p.PublicSignals[5] = "0" + p.PublicSignals[5] },
		func(p *SnarkjsProof) { p.PublicSignals[1] = "1_0" },
		func(p *SnarkjsProof) { p.PublicSignals[1] = "-0" },
		func(p *SnarkjsProof) { p.PublicSignals[1] = "" },
		func(p *SnarkjsProof) { p.PiA[0] = "0" + p.PiA[0] },
		func(p *SnarkjsProof) { p.PiB[1][1] = "+" + p.PiB[1][1] },
		func(p *SnarkjsProof) { p.PiC[1] = "000" + p.PiC[1] },
	}
	for i, spoil := range bad {
		p := claims[0].Proof.Snarkjs(&claims[0].Statement)
		p.PublicSignals = append([]string(nil), p.PublicSignals...)
		spoil(&p)
		if _, err := ClaimFromSnarkjs(&p, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("spoiled proof %d: %v", i, err)
		}
	}
	sv.Alpha1[0] = sv.Alpha1[1]
	if _, err := VerifyingKeyFromSnarkjs(&sv); !errors.Is(err, ErrMalformed) {
		t.Errorf("spoiled verifying key: %v", err)
	}
}

func TestExportSolidity(t *testing.T) {
	vk := mustKeys(t).VerifyingKey()
	var buf bytes.Buffer
	if err := vk.ExportSolidity(&buf); err != nil {
		t.Fatal(err)
	}
	sol := buf.String()
	for _, want := range []string{"contract Verifier", "function verifyProof", "not circom's Poseidon",
		vk.vk.G1.Alpha.X.String()} {
		if !strings.Contains(sol, want) {
			t.Errorf("Solidity verifier lacks %q", want)
		}
	}
	c := mustClaims(t)[0]
	cd := c.Proof.SolidityProof()
	if len(cd) != 256 {
		t.Fatalf("calldata of %d bytes, want 256", len(cd))
	}
	// EIP-197 order: B's x as (imaginary, real).
	var x1 [32]byte
	copy(x1[:], cd[64:96])
	want := c.Proof.B.X.A1.Bytes()
	if x1 != want {
		t.Fatal("calldata does not put B.x's imaginary part first")
	}
}
