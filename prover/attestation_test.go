package prover

import (
	"crypto/sha256"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// TestVerifierChecksTheAttestation is finding 6 of issue 13: a proof of a key outside the
// registry, made against a registry of its own at the largest weight, passes the pairing
// check; as an attestation it is refused, as are proofs for another network, another
// signing root or below the required weight.
func TestVerifierChecksTheAttestation(t *testing.T) {
	vs := newTestValidators(6)
	tr := testRegistry(t, 4, vs)
	keys := mustKeys(t)
	v := testVerifier(keys.VerifyingKey(), tr, 7, 8)
	claims := mustClaims(t) // validators of tr in epochs 7 and 8, signing root of "head vote"
	sr := sha256.Sum256([]byte("head vote"))
	if err := v.Verify(&claims[0], &sr); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(&claims[0], nil); err != nil {
		t.Fatal(err)
	}

	// The outsider: its own one-leaf registry, weight 2^64-1.
	outsider := testValidator{secret: DeriveSecret([32]byte{1, 2, 3}), weight: ^uint64(0)}
	own := testRegistry(t, 4, []testValidator{outsider})
	req := testRequest(own, []testValidator{outsider}, 0, 7, "head vote")
	req.MinWeight = ^uint64(0)
	proof, st, err := mustProver(t).Prove(&req)
	if err != nil {
		t.Fatal(err)
	}
	forged := Claim{Proof: *proof, Statement: st}
	if err := keys.VerifyingKey().VerifyPairing(&forged.Proof, &forged.Statement); err != nil {
		t.Fatalf("the pairing check alone should pass: %v", err)
	}
	if err := v.Verify(&forged, &sr); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("outsider's proof against its own registry: %v", err)
	}

	other := sha256.Sum256([]byte("another vote"))
	if err := v.Verify(&claims[0], &other); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("proof checked against another signing root: %v", err)
	}
	unsealed := claims[0]
	unsealed.Statement.Epoch = 9 // no root for it: refused before the pairing
	if err := v.Verify(&unsealed, nil); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("epoch without a root: %v", err)
	}
	strict := *v
	strict.MinWeight = claims[0].Statement.MinWeight + 1
	if err := strict.Verify(&claims[0], nil); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("minimum weight below the verifier's: %v", err)
	}
	elsewhere := *v
	elsewhere.Network = otherNetwork.ID()
	if err := elsewhere.Verify(&claims[0], nil); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("proof of another network: %v", err)
	}

	// A batch: the statement checks and the pairing checks both name their proofs.
	batch := append(slices.Clone(claims[:4]), forged)
	var one fr.Element
	one.SetOne()
	batch[2].Statement.Y.Add(&batch[2].Statement.Y, &one)
	bad, reasons, err := v.FindInvalid(batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bad, []int{2, 4}) || !errors.Is(reasons[2], ErrInvalidProof) || !errors.Is(reasons[4], ErrWrongStatement) {
		t.Fatalf("FindInvalid = %v (%v)", bad, reasons)
	}
	if _, _, err := v.FindInvalid(batch, make([]*[32]byte, 2)); !errors.Is(err, ErrBadInput) {
		t.Fatalf("signing roots of the wrong length: %v", err)
	}
}

// TestSnarkjsNoNegativeDecimals is finding 8 of issue 13: field elements within 2^16 of the
// modulus were written as negative decimals ("-1"), which snarkjs and ClaimFromSnarkjs refuse.
func TestSnarkjsNoNegativeDecimals(t *testing.T) {
	c := mustClaims(t)[0]
	st := c.Statement
	st.Y.SetInt64(-1)
	st.X.SetInt64(-65535)
	sig := PublicSignals(&st)
	want := new(big.Int).Sub(fr.Modulus(), big.NewInt(1)).String()
	if sig[3] != want {
		t.Fatalf("y = r-1 written as %q, want %q", sig[3], want)
	}
	sp := c.Proof.Snarkjs(&st)
	back, err := ClaimFromSnarkjs(&sp, nil)
	if err != nil {
		t.Fatalf("zkv's own export does not import: %v", err)
	}
	if back.Statement != st {
		t.Fatal("statement changed in a round trip")
	}
	// Points: p-1 as a coordinate.
	var e = c.Proof.A.X
	e.SetInt64(-1)
	if got, want := decimalFp(&e), new(big.Int).Sub(fp.Modulus(), big.NewInt(1)).String(); got != want {
		t.Fatalf("p-1 written as %q", got)
	}
}
