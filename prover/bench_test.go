package prover

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Benchmarks run at the default depth (20). Keys are cached under the system temp directory
// so that repeated runs skip the setup.
//
//	go test -run '^$' -bench 'Prove/|Verify/|LoadKeys' -benchtime 40x ./prover/
//	go test -run '^$' -bench 'PeakRSS|NewProver' -benchtime 1x ./prover/

var benchKeys = sync.OnceValues(func() (*Keys, error) {
	k, _, err := LoadKeys(KeyConfig{Depth: DefaultDepth, CacheDir: filepath.Join(os.TempDir(), "zkv-bench-keys")})
	return k, err
})

func mustBenchKeys(b *testing.B) *Keys {
	b.Helper()
	k, err := benchKeys()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// benchRequests returns n requests of n distinct validators of a depth-20 registry.
func benchRequests(b *testing.B, n int, epoch uint64) []Request {
	vs := newTestValidators(n)
	tr := testRegistry(b, DefaultDepth, vs)
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = testRequest(tr, vs, i, epoch, "bench")
	}
	return reqs
}

// meter measures wall time and this process's CPU time (user + system) of a benchmark. On a
// machine shared with other work, wall-clock throughput moves with their load; the CPU time
// per proof does much less, and GOMAXPROCS divided by it is the throughput the same cores
// would give if they were ours alone (the provers and verifiers here keep every core busy
// with independent work).
type meter struct {
	wall time.Time
	cpu  time.Duration
}

func startMeter() meter { return meter{wall: time.Now(), cpu: processCPU()} }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m meter) report(b *testing.B, proofs int) {
	wall, cpu := time.Since(m.wall), processCPU()-m.cpu
	b.ReportMetric(float64(proofs)/wall.Seconds(), "proofs/s")
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(proofs), "ms/proof")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(proofs), "cpu-ms/proof")
}

// BenchmarkProve compares gnark's groth16.Prove, one proof after the other on all cores, with
// zkv's Prover, one proof per core:
//
//   - cold: validators the prover has not seen, cache disabled;
//   - cold-cached: the same with the cache on (a restart's first epoch without a persisted
//     cache): every group a validator does not share with one proved before is computed on
//     its own for the cache; the b.N validators sit together in the registry and share the
//     tree levels above their lowest (BenchmarkFirstEpoch10k has keys spread too);
//   - warm: the next epoch of the same validators under the same root;
//   - grown: the next epoch after the registry grew elsewhere: one top-level sibling of every
//     path changed, as new registrations in another top subtree of a large registry do, so
//     the top level's group is recomputed along with the epoch's.
func BenchmarkProve(b *testing.B) {
	keys := mustBenchKeys(b)
	b.Run("stock", func(b *testing.B) {
		reqs := benchRequests(b, b.N, 1)
		b.ResetTimer()
		m := startMeter()
		for i := range reqs {
			if _, _, err := keys.ProveStock(&reqs[i]); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b, b.N)
	})
	b.Run("zkv-cold", func(b *testing.B) {
		p, err := NewProver(keys, ProverConfig{CacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		reqs := benchRequests(b, b.N, 1)
		b.ResetTimer()
		m := startMeter()
		mustProveAll(b, p, reqs)
		m.report(b, b.N)
	})
	b.Run("zkv-cold-cached", func(b *testing.B) {
		// The first epoch after a restart: validators the prover has not seen, with the cache
		// on, so that every group's sums are computed on their own and kept.
		p, err := NewProver(keys, ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		reqs := benchRequests(b, b.N, 1)
		b.ResetTimer()
		m := startMeter()
		mustProveAll(b, p, reqs)
		m.report(b, b.N)
	})
	b.Run("zkv-warm", func(b *testing.B) {
		p, err := NewProver(keys, ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		mustProveAll(b, p, benchRequests(b, b.N, 1))
		reqs := benchRequests(b, b.N, 2)
		b.ResetTimer()
		m := startMeter()
		mustProveAll(b, p, reqs)
		m.report(b, b.N)
	})
	b.Run("zkv-grown", func(b *testing.B) {
		p, err := NewProver(keys, ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		mustProveAll(b, p, benchRequests(b, b.N, 1))
		reqs := benchRequests(b, b.N, 2)
		var other fr.Element
		if _, err := other.SetRandom(); err != nil {
			b.Fatal(err)
		}
		for i := range reqs {
			top := len(reqs[i].Path.Siblings) - 1
			reqs[i].Path.Siblings = slices.Clone(reqs[i].Path.Siblings)
			reqs[i].Path.Siblings[top][Arity-2] = other
			reqs[i].Root = reqs[i].Path.Root(Leaf(IdentityCommitment(reqs[i].Secret), reqs[i].Weight))
		}
		b.ResetTimer()
		m := startMeter()
		mustProveAll(b, p, reqs)
		m.report(b, b.N)
	})
}

func mustProveAll(b *testing.B, p *Prover, reqs []Request) {
	b.Helper()
	res, err := p.ProveMany(context.Background(), reqs)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// benchClaims are 64 distinct valid depth-20 claims.
var benchClaims = sync.OnceValues(func() ([]Claim, error) {
	keys, err := benchKeys()
	if err != nil {
		return nil, err
	}
	p, err := NewProver(keys, ProverConfig{})
	if err != nil {
		return nil, err
	}
	vs := newTestValidators(64)
	tr, err := buildTestTree(DefaultDepth, testLeaves(vs))
	if err != nil {
		return nil, err
	}
	reqs := make([]Request, len(vs))
	for i := range reqs {
		reqs[i] = testRequest(tr, vs, i, 3, "bench")
	}
	res, err := p.ProveMany(context.Background(), reqs)
	if err != nil {
		return nil, err
	}
	claims := make([]Claim, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		claims[i] = Claim{Proof: *r.Proof, Statement: r.Statement}
	}
	return claims, nil
})

// BenchmarkVerify compares gnark's groth16.Verify per proof with zkv's Verify and with batch
// verification of 1024 proofs, all at depth 20; decode is ProofFromBytes with its subgroup
// checks, which a pool pays once per received proof.
func BenchmarkVerify(b *testing.B) {
	keys := mustBenchKeys(b)
	claims, err := benchClaims()
	if err != nil {
		b.Fatal(err)
	}
	vk := keys.VerifyingKey()
	perProof := func(name string, verify func(c *Claim) error) {
		b.Run(name, func(b *testing.B) {
			m := startMeter()
			for i := 0; i < b.N; i++ {
				c := &claims[i%len(claims)]
				if err := verify(c); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, b.N)
		})
	}
	perProof("gnark-one", func(c *Claim) error { return vk.VerifyGnark(&c.Proof, &c.Statement) })
	perProof("zkv-one", func(c *Claim) error { return vk.VerifyPairing(&c.Proof, &c.Statement) })
	encoded := make([][ProofSize]byte, len(claims))
	for i := range claims {
		encoded[i] = claims[i].Proof.Bytes()
	}
	perProof("decode", func(c *Claim) error {
		_, err := ProofFromBytes(encoded[0][:])
		return err
	})
	const batch = 1024
	big := make([]Claim, batch)
	for i := range big {
		big[i] = claims[i%len(claims)]
	}
	b.Run("batch-1024", func(b *testing.B) {
		m := startMeter()
		for i := 0; i < b.N; i++ {
			if err := vk.BatchVerifyPairing(big); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b, b.N*batch)
	})
}

// BenchmarkLoadKeys measures loading the depth-20 keys from the disk cache (compile included).
func BenchmarkLoadKeys(b *testing.B) {
	mustBenchKeys(b) // make sure the cache file exists
	dir := filepath.Join(os.TempDir(), "zkv-bench-keys")
	for i := 0; i < b.N; i++ {
		_, info, err := LoadKeys(KeyConfig{Depth: DefaultDepth, CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if !info.FromCache {
			b.Fatalf("keys not loaded from the cache: %v", info.CacheError)
		}
		b.ReportMetric(float64(info.Compile.Microseconds())/1000, "compile-ms")
		b.ReportMetric(float64(info.Load.Microseconds())/1000, "read-ms")
	}
}

// BenchmarkNewProver measures preparing a depth-20 prover: wire layout and fixed-base tables.
func BenchmarkNewProver(b *testing.B) {
	keys := mustBenchKeys(b)
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cache", 0}, {"no-cache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var p *Prover
			for i := 0; i < b.N; i++ {
				var err error
				if p, err = NewProver(keys, ProverConfig{CacheSize: bc.cache}); err != nil {
					b.Fatal(err)
				}
			}
			tables := p.layout.tableBytes() + len(p.zTab.table)*int(unsafe.Sizeof(p.zTab.table[0]))
			b.ReportMetric(float64(tables)/(1<<20), "table-MiB")
		})
	}
}

// BenchmarkIdentityProof measures the proof of knowledge a registration carries: proving it
// (gnark's prover, on the calling goroutine's cores) and verifying it.
//
//	go test -run '^$' -bench IdentityProof -benchtime 50x ./prover/
func BenchmarkIdentityProof(b *testing.B) {
	k, err := LoadIdentityKeys("", false)
	if err != nil {
		b.Fatal(err)
	}
	s := newTestValidators(1)[0].secret
	bind := IdentityBinding([32]byte{}, []byte("bench key"))
	id := IdentityCommitment(s)
	b.Run("prove", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := k.ProveIdentity(s, bind); err != nil {
				b.Fatal(err)
			}
		}
	})
	proof, err := k.ProveIdentity(s, bind)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := k.VerifyingKey().VerifyIdentity(proof, id, bind); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFirstEpoch10k is the first epoch after a restart of an operator with 10,000 keys
// in a depth-20 registry: b.N of its validators (b.N <= 5,000, a contiguous run of its keys
// from key 2,500) proved by a new prover, so per-proof figures are those of the whole epoch
// (10,000 / proofs/s is its time; the 384 s of an epoch is the budget). How much the tree's
// levels are shared depends on where the keys sit in the registry:
//
//   - together: the 10,000 keys registered one after the other (leaves 0-9,999);
//   - spread: one key in every 100 leaves of a million, the others another operator's;
//
// and the prover's state:
//
//   - cold: the cache off, every group computed for every proof;
//   - fresh: the cache on but empty (no persisted cache): validators take the tree levels
//     that an earlier proof of a neighbour computed (sharedSums);
//   - persisted: each validator's cache entry imported (ImportCache) from the last epoch's
//     prover, as `zkv validator` does from its database at start.
func BenchmarkFirstEpoch10k(b *testing.B) {
	keys := mustBenchKeys(b)
	const nKeys, first = 10_000, 2_500
	vs := newTestValidators(nKeys)
	placements := []struct {
		name   string
		stride int
	}{{"together", 1}, {"spread", 100}}
	for _, pl := range placements {
		leaves := make([]fr.Element, nKeys*pl.stride)
		zero := ZeroHashes(DefaultDepth)[0]
		for i := range leaves {
			leaves[i] = zero
		}
		for i, l := range testLeaves(vs) {
			leaves[i*pl.stride] = l
		}
		tr, err := buildTestTree(DefaultDepth, leaves)
		if err != nil {
			b.Fatal(err)
		}
		requests := func(n int, epoch uint64) []Request {
			if n > nKeys-first {
				b.Fatalf("b.N = %d: at most %d", n, nKeys-first)
			}
			reqs := make([]Request, n)
			for i := range reqs {
				v := first + i
				reqs[i] = Request{
					Secret: vs[v].secret, Weight: vs[v].weight, Path: tr.path(uint64(v * pl.stride)), Root: tr.root(),
					Epoch: epoch, SigningRoot: sha256.Sum256([]byte("bench")), MinWeight: 16_000_000_000, Network: testNetwork.ID(),
				}
			}
			return reqs
		}
		for _, mode := range []struct {
			name      string
			cacheSize int
		}{{"cold", -1}, {"fresh", 0}} {
			b.Run(pl.name+"/"+mode.name, func(b *testing.B) {
				p, err := NewProver(keys, ProverConfig{CacheSize: mode.cacheSize})
				if err != nil {
					b.Fatal(err)
				}
				reqs := requests(b.N, 7)
				b.ResetTimer()
				m := startMeter()
				mustProveAll(b, p, reqs)
				m.report(b, b.N)
				if p.shared != nil {
					b.ReportMetric(float64(p.borrowed.Load())/float64(b.N), "shared-groups/proof")
				}
			})
		}
		b.Run(pl.name+"/persisted", func(b *testing.B) {
			last, err := NewProver(keys, ProverConfig{})
			if err != nil {
				b.Fatal(err)
			}
			mustProveAll(b, last, requests(b.N, 6))
			p, err := NewProver(keys, ProverConfig{})
			if err != nil {
				b.Fatal(err)
			}
			reqs := requests(b.N, 7)
			for i := range reqs {
				e, err := last.ExportCache(IdentityCommitment(reqs[i].Secret))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.ImportCache(e); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			m := startMeter()
			mustProveAll(b, p, reqs)
			m.report(b, b.N)
		})
	}
}
