package e2e_test

import (
	"context"
	"sync"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/private"
	"github.com/zkvlabs/zkv/validator/private/privatetest"
)

// countingHook passes the client's attestations to the private Service and counts them per
// target epoch.
type countingHook struct {
	next client.AttestationHook

	mu    sync.Mutex
	count map[uint64]int
	pubs  map[uint64]map[phase0.BLSPubKey]bool
}

func (h *countingHook) Attested(atts []client.SignedAttestation) {
	h.next.Attested(atts)
	h.mu.Lock()
	defer h.mu.Unlock()
	e := uint64(atts[0].Data.Target.Epoch)
	h.count[e] += len(atts)
	if h.pubs[e] == nil {
		h.pubs[e] = map[phase0.BLSPubKey]bool{}
	}
	for _, a := range atts {
		h.pubs[e][a.Pubkey] = true
	}
}

// A validator client with 16 devnet keys runs two epochs against the devnet beacon node with
// private attestations on: every attestation it signs yields one proof that a pool (a real
// registry and verifier, in process) verifies against the registry root of its epoch; the
// client's attestations of the second epoch all succeed while proofs are made (a client that
// starts late on a loaded machine may miss some of the first); and the planted equivocation
// of validator 5 gives two claims from which the evidence names validator 5. That the hand-over
// never waits for the prover is TestAttestedNeverBlocks's (validator/private).
func TestPrivateAttestationsOnDevnet(t *testing.T) {
	const n, epochs = 16, 2
	// Two-second slots: the test judges whether every attestation of an epoch succeeds while
	// proofs are made, and one-second slots (a third of a second to attest) fail that on a
	// loaded 2-core machine whether or not anything is proved.
	node, url, keyDir := devnetWith(t, beacon.Config{Validators: n, SlotTime: 2 * time.Second, GenesisDelay: privateGenesisDelay(), KeystoreDir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	spe := node.Preset().SlotsPerEpoch

	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	ik, err := prover.LoadIdentityKeys("", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := eth2http.New(ctx, eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled))
	if err != nil {
		t.Fatal(err)
	}
	network, err := private.NetworkOf(ctx, svc.(eth2client.GenesisProvider))
	if err != nil {
		t.Fatal(err)
	}
	if network.GenesisValidatorsRoot != node.GenesisValidatorsRoot() || network.GenesisForkVersion != beacon.GenesisForkVersion {
		t.Fatalf("network from the beacon node: %+v", network)
	}
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: 4, Network: network, IdentityKey: ik.VerifyingKey()})
	if err != nil {
		t.Fatal(err)
	}
	pool := privatetest.New(reg, keys.VerifyingKey())

	// The pool seals each epoch's root when the epoch starts, the first once every key has
	// registered.
	var sealWG sync.WaitGroup
	sealWG.Go(func() {
		sealed := -1
		for ctx.Err() == nil {
			cur := int(uint64(node.CurrentSlot()) / spe)
			if sealed < 0 && reg.Pending() == n {
				if _, err := reg.Seal(uint64(cur)); err != nil {
					t.Errorf("seal %d: %v", cur, err)
					return
				}
				sealed = cur
			}
			for sealed >= 0 && sealed < cur {
				sealed++
				if _, err := reg.Seal(uint64(sealed)); err != nil {
					t.Errorf("seal %d: %v", sealed, err)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Cleanup(sealWG.Wait)
	t.Cleanup(cancel)

	d, err := db.Open(db.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	equivocator := phase0.BLSPubKey(node.Genesis().Secrets[5].PublicKey().Bytes())
	priv, err := private.New(private.Config{Keys: node.Genesis().Secrets, Prover: p, IdentityKeys: ik, Network: network,
		Pools: []private.NamedPool{{Name: "test", Pool: pool}}, Balances: private.BeaconBalances(svc.(eth2client.ValidatorsProvider)),
		MinWeight: 16_000_000_000, Store: d.KV(db.ProverCache), RetryInterval: 100 * time.Millisecond,
		Equivocate: []phase0.BLSPubKey{equivocator}, Logger: testLogger(t).With("part", "private")})
	if err != nil {
		t.Fatal(err)
	}
	privDone := make(chan error, 1)
	privCtx, stopPriv := context.WithCancel(ctx)
	go func() { privDone <- priv.Run(privCtx) }()
	t.Cleanup(func() {
		stopPriv()
		if err := <-privDone; err != nil {
			t.Errorf("private Run: %v", err)
		}
		d.Close()
	})

	hook := &countingHook{next: priv, count: map[uint64]int{}, pubs: map[uint64]map[phase0.BLSPubKey]bool{}}
	var rep reports
	stop, _ := startValidatorWith(t, url, keyDir, t.TempDir(), &rep, client.WithDoppelganger(0), client.WithShutdownGrace(time.Second),
		client.WithAttestationHook(hook), client.WithDB(d))

	end := node.GenesisTime().Add(time.Duration(epochs*spe) * node.SlotTime())
	deadline := end.Add(2 * time.Minute)
	// Wait for the last slot of the run to pass, then for the proofs of the two epochs.
	for time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	// The client's attestations of the second epoch all went through.
	var done, failed int
	for _, r := range rep.all() {
		if r.Kind == "attestation" && uint64(r.Slot)/spe == epochs-1 {
			done += r.Done
			failed += r.Failed
		}
	}
	if done != n || failed != 0 {
		t.Fatalf("attestations of epoch %d: %d done, %d failed, want %d and 0", epochs-1, done, failed, n)
	}
	hook.mu.Lock()
	counts := map[uint64]int{}
	for e, c := range hook.count {
		counts[e] = c
	}
	planted := uint64(0)
	for ; planted < epochs && !hook.pubs[planted][equivocator]; planted++ {
	}
	hook.mu.Unlock()
	if counts[epochs-1] != n {
		t.Fatalf("attestations handed over: %v, want %d in epoch %d", counts, n, epochs-1)
	}
	want := func(e uint64) int {
		if e == planted {
			return counts[e] + 1 // the planted second proof
		}
		return counts[e]
	}
	for len(pool.Claims(0)) < want(0) || len(pool.Claims(1)) < want(1) {
		if time.Now().After(deadline) {
			t.Fatalf("proofs: %d of epoch 0, %d of epoch 1, want %d and %d; stats %+v; refused %v",
				len(pool.Claims(0)), len(pool.Claims(1)), want(0), want(1), priv.Stats(), pool.Refused())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// One proof per attestation (and the planted one), each verified against the root of its
	// epoch, and one nullifier per validator and epoch.
	if r := pool.Refused(); len(r) > 0 {
		t.Fatalf("the pool refused proofs: %v", r)
	}
	for e := uint64(0); e < epochs; e++ {
		claims := pool.Claims(e)
		if len(claims) != want(e) {
			t.Fatalf("epoch %d: %d proofs, want %d", e, len(claims), want(e))
		}
		root, err := reg.Root(e)
		if err != nil {
			t.Fatal(err)
		}
		nullifiers := map[fr.Element]bool{}
		for _, c := range claims {
			if !c.Statement.Root.Equal(&root) {
				t.Fatalf("epoch %d: a proof against another root", e)
			}
			nullifiers[c.Statement.Nullifier] = true
		}
		if len(nullifiers) != counts[e] {
			t.Fatalf("epoch %d: %d nullifiers, want one per validator that attested (%d)", e, len(nullifiers), counts[e])
		}
	}
	claims := pool.Claims(planted)
	eqs := prover.FindEquivocations(claims)
	if len(eqs) != 1 {
		t.Fatalf("%d equivocations in epoch %d, want 1", len(eqs), planted)
	}
	ev, err := prover.NewEvidence(pool.Verifier, claims[eqs[0].First], claims[eqs[0].Second])
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Check(pool.Verifier); err != nil {
		t.Fatal(err)
	}
	m, err := reg.ByIdentity(ev.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if phase0.BLSPubKey(m.Pubkey) != equivocator {
		t.Fatalf("the evidence names %#x, want validator 5 (%#x)", m.Pubkey[:8], equivocator[:8])
	}
	if st := priv.Stats(); st.QueueFull != 0 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// privateGenesisDelay leaves time, before epoch 0's root is sealed at genesis, to set the prover
// up and to sign and register every key: under the race detector that takes several times longer
// (a registration that misses the seal leaves its epoch-0 attestation without a proof).
func privateGenesisDelay() time.Duration {
	if raceEnabled {
		return 20 * time.Second
	}
	return 5 * time.Second
}
