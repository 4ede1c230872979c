package pool

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// TestRevocationReplayedAtStart: evidence that was stored but whose key was not revoked (a
// crash between the commit and Revoke) bars the key when the pool starts again.
func TestRevocationReplayedAtStart(t *testing.T) {
	dir := t.TempDir()
	tp := startPool(t, dir, 2)
	a, b := tp.prove(t, 0, testEpoch, root("x")), tp.prove(t, 0, testEpoch, root("y"))
	ev, err := prover.NewEvidence(tp.srv.Verifier(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.db.Put(db.Nullifiers, keyOf(&a.Statement).bytes(prefixEvidence), js); err != nil {
		t.Fatal(err)
	}
	tp.stop()

	tp = startPool(t, dir, 0)
	// Run replays the stored evidence as it starts, in its own goroutine: poll until it has.
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := registry.SignAt(mustMaterial(t).ik, testKey(t, 0), testWeight, uint64(time.Now().Unix())+1, tp.srv.Registry().Domain())
		if err != nil {
			t.Fatal(err)
		}
		err = tp.srv.Register(r)
		if errors.Is(err, registry.ErrRevoked) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key not barred after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
