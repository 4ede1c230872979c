package prover

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/test"
)

// TestCircuitGnarkEngine runs the circuit through gnark's test engine (an interpreter of the
// circuit, independent of the compiled R1CS that circuit_test.go solves) and CheckCircuit's
// full Groth16 rounds, with valid and invalid assignments.
func TestCircuitGnarkEngine(t *testing.T) {
	const depth = 4
	vs := newTestValidators(9)
	tr := testRegistry(t, depth, vs)
	req := testRequest(tr, vs, 6, 12, "attestation")
	st, err := req.Statement()
	if err != nil {
		t.Fatal(err)
	}
	if err := test.IsSolved(&hashCircuit{}, hashAssignment(), ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("hash circuit: %v", err)
	}
	valid := req.assignment(&st)
	if err := test.IsSolved(NewCircuit(depth), valid, ecc.BN254.ScalarField()); err != nil {
		t.Fatalf("valid assignment: %v", err)
	}
	var one fr.Element
	one.SetOne()
	invalid := map[string]func(c *Circuit){
		"wrong root":       func(c *Circuit) { r := c.Root.(fr.Element); r.Add(&r, &one); c.Root = r },
		"wrong y":          func(c *Circuit) { y := c.Y.(fr.Element); y.Add(&y, &one); c.Y = y },
		"wrong epoch":      func(c *Circuit) { c.Epoch = 13 },
		"leaf not in tree": func(c *Circuit) { c.Secret = vs[0].secret },
		"wrong nullifier":  func(c *Circuit) { n := c.Nullifier.(fr.Element); n.Add(&n, &one); c.Nullifier = n },
	}
	assert := test.NewAssert(t)
	for name, spoil := range invalid {
		bad := req.assignment(&st)
		spoil(bad)
		if err := test.IsSolved(NewCircuit(depth), bad, ecc.BN254.ScalarField()); err == nil {
			t.Errorf("%s: solved", name)
		}
		if testing.Short() {
			continue
		}
		assert.CheckCircuit(NewCircuit(depth),
			test.WithValidAssignment(valid),
			test.WithInvalidAssignment(bad),
			test.WithCurves(ecc.BN254),
			test.WithBackends(backend.GROTH16),
			test.NoFuzzing(),
			test.NoSerializationChecks(),
		)
	}
}
