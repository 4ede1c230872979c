package private

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/private/privatetest"
	"github.com/zkvlabs/zkv/validator/signer"
)

var testNetwork = prover.Network{GenesisForkVersion: [4]byte{0x10, 0, 0, 0x38}, GenesisValidatorsRoot: sha256.Sum256([]byte("private test"))}

// Keys are made once: a depth-4 circuit and the identity circuit.
var (
	testKeys = sync.OnceValues(func() (*prover.Keys, error) {
		k, _, err := prover.LoadKeys(prover.KeyConfig{Depth: 4})
		return k, err
	})
	testIdentityKeys = sync.OnceValues(func() (*prover.IdentityKeys, error) {
		return prover.LoadIdentityKeys("", false)
	})
	// testPlainProver, without a cache, serves the tests that prove nothing.
	testPlainProver = sync.OnceValues(func() (*prover.Prover, error) {
		k, err := testKeys()
		if err != nil {
			return nil, err
		}
		return prover.NewProver(k, prover.ProverConfig{CacheSize: -1})
	})
)

func plainProver(t testing.TB) *prover.Prover {
	t.Helper()
	p, err := testPlainProver()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	keys   *prover.Keys
	ik     *prover.IdentityKeys
	sks    []*bls.SecretKey
	pks    []phase0.BLSPubKey
	pools  []*privatetest.Pool
	bal    *fixedBalances
	domain phase0.Domain
}

func newFixture(t testing.TB, nKeys, nPools int) *fixture {
	t.Helper()
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	ik, err := testIdentityKeys()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{keys: keys, ik: ik, bal: &fixedBalances{w: map[phase0.BLSPubKey]uint64{}},
		domain: signer.ComputeDomain(signer.DomainBeaconAttester, testNetwork.GenesisForkVersion, testNetwork.GenesisValidatorsRoot)}
	for range nKeys {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		pk := phase0.BLSPubKey(sk.PublicKey().Bytes())
		f.sks, f.pks = append(f.sks, sk), append(f.pks, pk)
		f.bal.w[pk] = 32_000_000_000
	}
	for range nPools {
		reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: 4, Network: testNetwork, IdentityKey: ik.VerifyingKey()})
		if err != nil {
			t.Fatal(err)
		}
		f.pools = append(f.pools, privatetest.New(reg, keys.VerifyingKey()))
	}
	return f
}

func (f *fixture) config(t testing.TB, p *prover.Prover) Config {
	cfg := Config{Keys: f.sks, Prover: p, IdentityKeys: f.ik, Network: testNetwork, Balances: f.bal,
		MinWeight: 16_000_000_000, RetryInterval: 50 * time.Millisecond, MemberWait: time.Minute}
	for i, pl := range f.pools {
		cfg.Pools = append(cfg.Pools, NamedPool{Name: string(rune('a' + i)), Pool: pl})
	}
	return cfg
}

// attestations are the signed attestations of every key for one slot of epoch.
func (f *fixture) attestations(epoch uint64) []client.SignedAttestation {
	data := &phase0.AttestationData{Slot: phase0.Slot(8 * epoch), BeaconBlockRoot: phase0.Root{byte(epoch), 1},
		Source: &phase0.Checkpoint{Epoch: phase0.Epoch(epoch - 1)}, Target: &phase0.Checkpoint{Epoch: phase0.Epoch(epoch), Root: phase0.Root{2}}}
	root, _ := data.HashTreeRoot()
	sr := signer.SigningRoot(root, f.domain)
	out := make([]client.SignedAttestation, len(f.pks))
	for i, pk := range f.pks {
		out[i] = client.SignedAttestation{Pubkey: pk, Data: data, Domain: f.domain, SigningRoot: sr}
	}
	return out
}

type fixedBalances struct {
	mu sync.Mutex
	w  map[phase0.BLSPubKey]uint64
}

func (b *fixedBalances) EffectiveBalances(_ context.Context, pks []phase0.BLSPubKey) (map[phase0.BLSPubKey]uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[phase0.BLSPubKey]uint64{}
	for _, pk := range pks {
		out[pk] = b.w[pk]
	}
	return out, nil
}

// run runs s until the returned stop, which waits for Run to return.
func run(t testing.TB, s *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds; the limit is generous, for a loaded machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seal(t testing.TB, pools []*privatetest.Pool, epoch uint64) {
	t.Helper()
	for _, p := range pools {
		if _, err := p.Registry.Seal(epoch); err != nil {
			t.Fatal(err)
		}
	}
}

// The Service registers every key with every pool; each attestation yields one proof that the
// pool verifies against the root of its epoch; a pool that is down gets the epoch's proofs once
// it is back, without holding up the other; the planted equivocation gives two claims from
// which FindEquivocations and NewEvidence name the validator; and the prover cache written to
// badger loads into a new prover after a restart, where a damaged entry is refused.
func TestServiceEndToEnd(t *testing.T) {
	f := newFixture(t, 5, 2)
	p, err := prover.NewProver(f.keys, prover.ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(db.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := f.config(t, p)
	cfg.Store = d.KV(db.ProverCache)
	cfg.Equivocate = []phase0.BLSPubKey{f.pks[2]}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	a, b := f.pools[0], f.pools[1]
	waitFor(t, "registrations at both pools", func() bool { return a.Registry.Pending() == 5 && b.Registry.Pending() == 5 })
	seal(t, f.pools, 1)

	// Epoch 1: five attestations and the planted second proof reach both pools.
	s.Attested(f.attestations(1))
	waitFor(t, "epoch 1 proofs", func() bool { return len(a.Claims(1)) == 6 && len(b.Claims(1)) == 6 })

	// Epoch 2 with pool b down: a gets everything, b gets the same proofs when it is back.
	// Key 0's effective balance dropped: the new epoch brings its new registration.
	f.bal.mu.Lock()
	f.bal.w[f.pks[0]] = 31_000_000_000
	f.bal.mu.Unlock()
	b.SetDown(true)
	seal(t, f.pools, 2)
	s.Attested(f.attestations(2))
	waitFor(t, "epoch 2 proofs at the pool that is up", func() bool { return len(a.Claims(2)) == 5 })
	if n := len(b.Claims(2)); n != 0 {
		t.Fatalf("a pool that is down received %d proofs", n)
	}
	b.SetDown(false)
	waitFor(t, "epoch 2 proofs at the pool that came back", func() bool { return len(b.Claims(2)) == 5 })
	waitFor(t, "the new weight's registration at both pools", func() bool { return a.Registry.Pending() == 1 && b.Registry.Pending() == 1 })
	seal(t, f.pools, 3)
	if m, err := a.Registry.Member([48]byte(f.pks[0])); err != nil || m.Weight != 31_000_000_000 {
		t.Fatalf("key 0 after its new registration: weight %d, %v", m.Weight, err)
	}
	for _, pl := range f.pools {
		if r := pl.Refused(); len(r) > 0 {
			t.Fatalf("pool refused proofs: %v", r)
		}
		// Every received proof verifies against the root of its epoch (the pool verified it;
		// check again here so the test does not rest on the adapter alone).
		for _, r := range pl.Received() {
			root, err := pl.Registry.Root(r.Claim.Statement.Epoch)
			if err != nil || !root.Equal(&r.Claim.Statement.Root) {
				t.Fatalf("proof of epoch %d against another root", r.Claim.Statement.Epoch)
			}
			if err := pl.Verifier.Verify(&r.Claim, &r.SigningRoot); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The equivocation: one pair, naming key 2 through the registry.
	claims := a.Claims(1)
	eqs := prover.FindEquivocations(claims)
	if len(eqs) != 1 {
		t.Fatalf("%d equivocations in epoch 1, want 1", len(eqs))
	}
	ev, err := prover.NewEvidence(a.Verifier, claims[eqs[0].First], claims[eqs[0].Second])
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Registry.ByIdentity(ev.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if phase0.BLSPubKey(m.Pubkey) != f.pks[2] {
		t.Fatalf("evidence names %#x, want the equivocating key %#x", m.Pubkey[:8], f.pks[2][:8])
	}
	if eqs := prover.FindEquivocations(a.Claims(2)); len(eqs) != 0 {
		t.Fatalf("epoch 2 has %d equivocations: the equivocation is planted once", len(eqs))
	}
	st := s.Stats()
	if st.Proved != 11 || st.Failed != 0 || st.Sent != 22 || st.Registered != 12 {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, "cache entries written", func() bool { return s.Stats().CacheSaved >= 5 })
	stop()

	// Restart: a new prover (empty cache) loads the five entries from badger; a damaged entry
	// beside them is refused and counted.
	bad := append([]byte(cachePrefix), make([]byte, 32)...)
	if err := d.KV(db.ProverCache).Set(bad, []byte("not a cache entry")); err != nil {
		t.Fatal(err)
	}
	p2, err := prover.NewProver(f.keys, prover.ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prover = p2
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s2)
	waitFor(t, "cache loaded", func() bool { st := s2.Stats(); return st.CacheLoaded == 5 && st.CacheBad == 1 })
	// The restarted Service sends the stored registrations again instead of signing new ones:
	// the pools have them, so nothing new is pending.
	waitFor(t, "stored registrations delivered", func() bool {
		for _, o := range s2.outs {
			o.mu.Lock()
			n := len(o.regs)
			o.mu.Unlock()
			if n > 0 {
				return false
			}
		}
		s2.mu.Lock()
		defer s2.mu.Unlock()
		return len(s2.weights) == len(f.pks)
	})
	if a.Registry.Pending() != 0 || b.Registry.Pending() != 0 || s2.Stats().Registered != 0 {
		t.Fatalf("restart signed new registrations: pending %d and %d, registered %d", a.Registry.Pending(), b.Registry.Pending(), s2.Stats().Registered)
	}
	for _, pk := range f.pks {
		k := s2.keys[pk]
		if _, err := p2.ExportCache(k.identity); err != nil {
			t.Fatalf("validator %#x not in the restarted prover's cache: %v", pk[:8], err)
		}
	}
}

// Attested never blocks: with the queue full and nothing proving, the slot is dropped and
// counted. Attestations of keys the Service does not hold are ignored.
func TestAttestedNeverBlocks(t *testing.T) {
	f := newFixture(t, 2, 1)
	p := plainProver(t)
	cfg := f.config(t, p)
	cfg.QueueSize = 1
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Attested(f.attestations(1))
	s.Attested(f.attestations(2))
	s.Attested(f.attestations(3))
	other := f.attestations(4)
	other[0].Pubkey[0] ^= 1
	s.Attested(other[:1])
	if st := s.Stats(); st.Queued != 1 || st.QueueFull != 2 {
		t.Fatalf("queued %d, dropped %d; want 1 and 2", st.Queued, st.QueueFull)
	}
}

// An outbox keeps the current and the previous epoch's proofs and drops older ones and
// overflow, counting both.
func TestOutboxBounds(t *testing.T) {
	f := newFixture(t, 1, 1)
	p := plainProver(t)
	cfg := f.config(t, p)
	cfg.MaxPending = 4
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := s.outs[0]
	o.add([]item{{epoch: 1}, {epoch: 2}, {epoch: 3}})
	o.dropBefore(3)
	if len(o.pending) != 2 || o.pending[0].epoch != 2 || s.Stats().DroppedOld != 1 {
		t.Fatalf("after dropBefore(3): %d pending, %d dropped", len(o.pending), s.Stats().DroppedOld)
	}
	o.add([]item{{epoch: 3}, {epoch: 3}, {epoch: 3}})
	if len(o.pending) != 4 || o.pending[0].epoch != 3 || s.Stats().DroppedFull != 1 {
		t.Fatalf("over the limit: %d pending, %d dropped", len(o.pending), s.Stats().DroppedFull)
	}
}

// New refuses a missing dependency with an error that names it.
func TestNewChecksConfig(t *testing.T) {
	f := newFixture(t, 1, 1)
	p := plainProver(t)
	full := f.config(t, p)
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"no keys", func(c *Config) { c.Keys = nil }, "no validator keys"},
		{"no prover", func(c *Config) { c.Prover = nil }, "no prover"},
		{"no identity keys", func(c *Config) { c.IdentityKeys = nil }, "no identity keys"},
		{"no pool", func(c *Config) { c.Pools = nil }, "no pool"},
		{"nil pool", func(c *Config) { c.Pools = []NamedPool{{Name: "x"}} }, "is nil"},
		{"no balances", func(c *Config) { c.Balances = nil }, "effective balances"},
		{"duplicate key", func(c *Config) { c.Keys = []*bls.SecretKey{f.sks[0], f.sks[0]} }, "twice"},
		{"foreign equivocator", func(c *Config) { c.Equivocate = []phase0.BLSPubKey{{1}} }, "not one of the keys"},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "negative"},
	}
	for _, c := range cases {
		cfg := full
		c.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
	if _, err := New(full); err != nil {
		t.Fatal(err)
	}
	var _ Pool = (*privatetest.Pool)(nil)
}
