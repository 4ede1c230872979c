package prover

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestEquivocationRecoversSecret(t *testing.T) {
	keys := mustKeys(t)
	vk := keys.VerifyingKey()
	vs := newTestValidators(7)
	tr := testRegistry(t, 4, vs)
	p := mustProver(t)
	prove := func(i int, epoch uint64, msg string) Claim {
		t.Helper()
		req := testRequest(tr, vs, i, epoch, msg)
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		return Claim{Proof: *proof, Statement: st}
	}
	a := prove(4, 9, "head A")
	b := prove(4, 9, "head B")
	if a.Statement.Nullifier != b.Statement.Nullifier {
		t.Fatal("two proofs of one validator in one epoch have different nullifiers")
	}
	ev, err := NewEvidence(vk, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Secret.Equal(&vs[4].secret) {
		t.Fatalf("recovered secret %s, want %s", HexField(&ev.Secret), HexField(&vs[4].secret))
	}
	if want := IdentityCommitment(vs[4].secret); !ev.Identity.Equal(&want) {
		t.Fatal("wrong identity")
	}
	if leaf := ev.Leaf(vs[4].weight); !leaf.Equal(&tr.levels[0][4]) {
		t.Fatal("evidence leaf is not the validator's registry leaf")
	}
	if err := ev.Check(vk); err != nil {
		t.Fatal(err)
	}

	// The evidence travels as JSON and is checked again by whoever receives it.
	enc, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Evidence
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatal(err)
	}
	if err := got.Check(vk); err != nil {
		t.Fatalf("decoded evidence: %v", err)
	}
	forged := got
	forged.Secret = vs[5].secret
	if err := forged.Check(vk); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("evidence naming another secret: %v", err)
	}
	forged = got
	forged.Second.Statement.Y = forged.First.Statement.X // not the proof's statement
	if err := forged.Check(vk); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("evidence with a statement its proof does not prove: %v", err)
	}

	// Not equivocations.
	other := prove(5, 9, "head B")
	if _, err := NewEvidence(vk, a, other); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("two validators: %v", err)
	}
	again := prove(4, 9, "head A")
	if _, err := NewEvidence(vk, a, again); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("the same attestation twice: %v", err)
	}
	next := prove(4, 10, "head B")
	if _, err := NewEvidence(vk, a, next); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("two epochs: %v", err)
	}
	if next.Statement.Nullifier == a.Statement.Nullifier {
		t.Fatal("nullifier did not change with the epoch")
	}
}
