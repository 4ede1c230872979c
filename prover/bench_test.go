package prover

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Benchmarks run at the default depth (20). Keys are cached under the system temp directory
// so that repeated runs skip the setup.
//
//	go test -run '^$' -bench . -benchtime 40x ./prover/

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

func reportProofsPerSecond(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "proofs/s")
	b.ReportMetric(float64(d.Milliseconds())/float64(n), "ms/proof")
}

// BenchmarkProve compares gnark's groth16.Prove, one proof after the other on all cores, with
// zkv's Prover: one proof per core, first for validators it has not seen (cold), then for the
// next epoch of the same validators (warm: the cached groups are reused).
func BenchmarkProve(b *testing.B) {
	keys := mustBenchKeys(b)
	b.Run("stock", func(b *testing.B) {
		reqs := benchRequests(b, b.N, 1)
		b.ResetTimer()
		start := time.Now()
		for i := range reqs {
			if _, _, err := keys.ProveStock(&reqs[i]); err != nil {
				b.Fatal(err)
			}
		}
		reportProofsPerSecond(b, b.N, time.Since(start))
	})
	b.Run("zkv-cold", func(b *testing.B) {
		p, err := NewProver(keys, ProverConfig{CacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		reqs := benchRequests(b, b.N, 1)
		b.ResetTimer()
		start := time.Now()
		mustProveAll(b, p, reqs)
		reportProofsPerSecond(b, b.N, time.Since(start))
	})
	b.Run("zkv-warm", func(b *testing.B) {
		p, err := NewProver(keys, ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		mustProveAll(b, p, benchRequests(b, b.N, 1))
		reqs := benchRequests(b, b.N, 2)
		b.ResetTimer()
		start := time.Now()
		mustProveAll(b, p, reqs)
		reportProofsPerSecond(b, b.N, time.Since(start))
	})
}

func mustProveAll(b *testing.B, p *Prover, reqs []Request) {
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
