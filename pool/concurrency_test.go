package pool

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/zkvlabs/zkv/prover"
)

// TestConcurrentResends: the same proofs sent on four streams at once, so that batches
// holding them are verified and recorded while others are in flight: each proof is accepted
// exactly once and a duplicate everywhere else, and one validator's two attestations in
// flight at once still give one equivocation.
func TestConcurrentResends(t *testing.T) {
	tp := startPool(t, t.TempDir(), 4)
	ctx := ctxT(t)
	var claims []prover.Claim
	var roots [][32]byte
	for i := 0; i < 3; i++ {
		sr := root(fmt.Sprint("concurrent ", i))
		claims = append(claims, tp.prove(t, i, testEpoch, sr))
		roots = append(roots, sr)
	}
	a, b := root("concurrent A"), root("concurrent B")
	eqA, eqB := tp.prove(t, 3, testEpoch, a), tp.prove(t, 3, testEpoch, b)

	const senders = 4
	results := make([][]error, senders)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		cs := append(append([]prover.Claim(nil), claims...), eqA)
		rs := append(append([][32]byte(nil), roots...), a)
		if s%2 == 1 {
			cs[len(cs)-1], rs[len(rs)-1] = eqB, b
		}
		wg.Go(func() {
			errs, err := tp.client.SubmitProofs(ctx, cs, rs)
			if err != nil {
				t.Error(err)
			}
			results[s] = errs
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range claims {
		accepted := 0
		for s := 0; s < senders; s++ {
			switch e := results[s][i]; {
			case e == nil:
				accepted++
			case !errors.Is(e, ErrDuplicate):
				t.Errorf("sender %d proof %d: %v", s, i, e)
			}
		}
		if accepted != 1 {
			t.Errorf("proof %d accepted %d times", i, accepted)
		}
	}
	var acc, eq int
	for s := 0; s < senders; s++ {
		var se *StatusError
		switch e := results[s][len(claims)]; {
		case e == nil:
			acc++
		case errors.As(e, &se) && se.Status == StatusEquivocation:
			eq++
		case !errors.Is(e, ErrDuplicate):
			t.Errorf("sender %d equivocating proof: %v", s, e)
		}
	}
	if acc != 1 || eq != 2 {
		t.Errorf("equivocating validator: %d accepted, %d equivocations; want 1 and 2", acc, eq)
	}
	evs, err := tp.srv.Evidence()
	if err != nil || len(evs) != 1 {
		t.Fatalf("evidence %v, %v", evs, err)
	}
}
