package private

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// BenchmarkRestartSpeed measures the proving rate of the same keys at depth 20 in one run:
//
//   - cold: a prover that has never seen the keys (the first epoch without a stored cache);
//   - steady: the next epoch on the same prover (warm cache);
//   - restart: a new prover (a restarted process) whose cache was loaded from badger, where the
//     Service wrote it, proving the epoch after;
//   - steady2: the epoch after that, on the restarted prover.
//
// It reports proofs/s and CPU ms per proof of each, the time to load the cache, and the
// seconds an epoch of 1,000 and 10,000 keys would take at each rate on these cores, against the
// 384 s of an epoch: extrapolated from ZKV_BENCH_KEYS keys (default 128), since proving is
// linear in the number of keys once the cores are busy. Run it on 2 cores:
//
//	GOMAXPROCS=2 go test -run '^$' -bench RestartSpeed -benchtime 1x ./validator/private/
func BenchmarkRestartSpeed(b *testing.B) {
	n := 128
	if v, err := strconv.Atoi(os.Getenv("ZKV_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: prover.DefaultDepth, CacheDir: filepath.Join(os.TempDir(), "zkv-bench-keys")})
	if err != nil {
		b.Fatal(err)
	}
	ik, err := prover.LoadIdentityKeys(filepath.Join(os.TempDir(), "zkv-bench-keys"), false)
	if err != nil {
		b.Fatal(err)
	}
	network := prover.Network{GenesisForkVersion: [4]byte{0x10, 0, 0, 0x38}, GenesisValidatorsRoot: sha256.Sum256([]byte("bench"))}
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: prover.DefaultDepth, Network: network, IdentityKey: ik.VerifyingKey()})
	if err != nil {
		b.Fatal(err)
	}
	sks := make([]*bls.SecretKey, n)
	for i := range sks {
		if sks[i], err = bls.GenerateSecretKey(); err != nil {
			b.Fatal(err)
		}
		r, err := registry.SignAt(ik, sks[i], 32_000_000_000, 1, registry.ComputeDomain(network))
		if err != nil {
			b.Fatal(err)
		}
		if err := reg.Register(r); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := reg.Seal(1); err != nil {
		b.Fatal(err)
	}
	requests := func(epoch uint64) []prover.Request {
		reqs := make([]prover.Request, n)
		for i, sk := range sks {
			m, err := reg.Member([48]byte(sk.PublicKey().Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			reqs[i] = prover.Request{Secret: prover.SecretFromBLS(sk), Weight: m.Weight, Path: m.Path, Root: m.Root,
				Epoch: epoch, SigningRoot: sha256.Sum256([]byte(fmt.Sprint("att", epoch, i))), MinWeight: 16_000_000_000, Network: network.ID()}
		}
		return reqs
	}
	prove := func(p *prover.Prover, epoch uint64) (wall, cpu time.Duration) {
		reqs := requests(epoch)
		w0, c0 := time.Now(), processCPU()
		res, err := p.ProveMany(context.Background(), reqs)
		wall, cpu = time.Since(w0), processCPU()-c0
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		return wall, cpu
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := db.Open(db.Config{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		heap0 := heapInUse()
		p1, err := prover.NewProver(keys, prover.ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		heapNew := heapInUse()
		cold, coldCPU := prove(p1, 1)
		steady, steadyCPU := prove(p1, 2)
		// The prover's memory: its fixed part (tables made by NewProver) and what proving adds:
		// every key's cache entry plus the workers' scratch, which is fixed too; run it at two
		// ZKV_BENCH_KEYS and take the slope for the part per key.
		heap1 := heapInUse()
		runtime.KeepAlive(p1)
		// What the Service writes after the proofs of an epoch (saveCache, persist).
		store := d.KV(db.ProverCache)
		var stored int
		for _, sk := range sks {
			id := prover.IdentityCommitment(prover.SecretFromBLS(sk))
			blob, err := p1.ExportCache(id)
			if err != nil {
				b.Fatal(err)
			}
			stored += len(blob)
			if err := store.Set(cacheKey(id), blob); err != nil {
				b.Fatal(err)
			}
		}
		p2, err := prover.NewProver(keys, prover.ProverConfig{})
		if err != nil {
			b.Fatal(err)
		}
		l0 := time.Now()
		s := &Service{cfg: Config{Prover: p2, Store: store}, log: slog.New(slog.DiscardHandler), saved: map[fr.Element][32]byte{}}
		s.loadCache()
		load := time.Since(l0)
		if st := s.Stats(); st.CacheLoaded != uint64(n) || st.CacheBad != 0 {
			b.Fatalf("loaded %d entries (%d refused), want %d", st.CacheLoaded, st.CacheBad, n)
		}
		restart, restartCPU := prove(p2, 3)
		steady2, steady2CPU := prove(p2, 4) // steady again, on the restarted prover
		d.Close()
		for _, m := range []struct {
			name      string
			wall, cpu time.Duration
		}{{"cold", cold, coldCPU}, {"steady", steady, steadyCPU}, {"restart", restart, restartCPU}, {"steady2", steady2, steady2CPU}} {
			rate := float64(n) / m.wall.Seconds()
			b.ReportMetric(rate, m.name+"-proofs/s")
			b.ReportMetric(float64(m.cpu.Microseconds())/1000/float64(n), m.name+"-cpu-ms/proof")
			// What the cores would give if they were this process's alone (the machine may be
			// shared): GOMAXPROCS proofs per CPU time of one.
			b.ReportMetric(float64(runtime.GOMAXPROCS(0))*float64(n)/m.cpu.Seconds(), m.name+"-cpu-proofs/s")
			b.ReportMetric(1000/rate, m.name+"-s/1k-keys-epoch")
			b.ReportMetric(10000/rate, m.name+"-s/10k-keys-epoch")
		}
		b.ReportMetric(float64(load.Microseconds())/1000/float64(n), "load-ms/key")
		b.ReportMetric(float64(stored)/float64(n), "cache-bytes/key")
		b.ReportMetric(float64(heapNew-heap0)/1e6, "prover-fixed-heap-MB")
		b.ReportMetric(float64(heap1-heapNew)/1e6, "prover-added-heap-MB")
		b.ReportMetric(float64(steady)/float64(restart)*100, "restart/steady-%")
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
