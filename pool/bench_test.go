package pool

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
)

var (
	benchDepth      = flag.Int("pool.depth", prover.DefaultDepth, "registry depth of BenchmarkPoolEndToEnd")
	benchValidators = flag.Int("pool.validators", 128, "validators proving in BenchmarkPoolEndToEnd")
	benchEpochs     = flag.Int("pool.epochs", 16, "epochs each validator proves in BenchmarkPoolEndToEnd")
	benchSenders    = flag.Int("pool.senders", 4, "QUIC clients sending at once in BenchmarkPoolEndToEnd")
	benchBatch      = flag.Int("pool.batch", 256, "proofs per request in BenchmarkPoolEndToEnd")
)

// benchSet is validators × epochs real, distinct proofs (distinct nullifiers) against one
// registry, made once.
type benchSet struct {
	keys   *prover.Keys
	reg    *registry.Registry
	claims []prover.Claim
	roots  [][32]byte
}

var benchSetOnce = sync.OnceValues(func() (*benchSet, error) {
	cache := filepath.Join(os.TempDir(), "zkv-bench-keys") // shared with package prover's benchmarks
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: *benchDepth, CacheDir: cache})
	if err != nil {
		return nil, err
	}
	ik, err := prover.LoadIdentityKeys(cache, false)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: *benchDepth, Network: testNetwork, IdentityKey: ik.VerifyingKey()})
	if err != nil {
		return nil, err
	}
	sks := make([]prover.Request, 0, *benchValidators)
	for i := 0; i < *benchValidators; i++ {
		sk, err := keyAt(i)
		if err != nil {
			return nil, err
		}
		r, err := registry.Sign(ik, sk, testWeight, reg.Domain())
		if err != nil {
			return nil, err
		}
		if err := reg.Register(r); err != nil {
			return nil, err
		}
		sks = append(sks, prover.Request{Secret: prover.SecretFromBLS(sk), Weight: testWeight})
	}
	if _, err := reg.Seal(1); err != nil {
		return nil, err
	}
	if _, err := reg.Seal(uint64(*benchEpochs)); err != nil { // no change: every epoch has one root
		return nil, err
	}
	// The proofs are kept next to the keys: proving them takes minutes on 2 cores. Leaves do
	// not depend on the registrations' timestamps, so the registry's root is the same each
	// time; a file made for another root fails the check below and is made again.
	file := filepath.Join(cache, fmt.Sprintf("pool-bench-d%d-v%d-e%d.items", *benchDepth, *benchValidators, *benchEpochs))
	if b, err := os.ReadFile(file); err == nil {
		if items, errs, err := DecodeBatch(b); err == nil {
			set := &benchSet{keys: keys, reg: reg}
			for i := range items {
				if errs[i] != nil {
					break
				}
				set.claims = append(set.claims, items[i].Claim)
				set.roots = append(set.roots, items[i].SigningRoot)
			}
			v := &prover.Verifier{Key: keys.VerifyingKey(), Network: testNetwork.ID(), Roots: reg}
			if len(set.claims) == len(items) {
				if bad, _, err := v.FindInvalid(set.claims, nil); err == nil && len(bad) == 0 {
					return set, nil
				}
			}
		}
	}
	p, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		return nil, err
	}
	var reqs []prover.Request
	var roots [][32]byte
	for i := range sks {
		sk, _ := keyAt(i)
		m, err := reg.Member(sk.PublicKey().Bytes())
		if err != nil {
			return nil, err
		}
		for e := 1; e <= *benchEpochs; e++ {
			rq := sks[i]
			rq.Path, rq.Root, rq.Epoch, rq.Network, rq.MinWeight = m.Path, m.Root, uint64(e), testNetwork.ID(), 1
			rq.SigningRoot = root(fmt.Sprint(i, "/", e))
			reqs = append(reqs, rq)
			roots = append(roots, rq.SigningRoot)
		}
	}
	start := time.Now()
	res, err := p.ProveMany(context.Background(), reqs)
	if err != nil {
		return nil, err
	}
	claims := make([]prover.Claim, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		claims[i] = prover.Claim{Proof: *r.Proof, Statement: r.Statement}
	}
	fmt.Fprintf(os.Stderr, "bench set: %d proofs at depth %d proved in %v\n", len(claims), *benchDepth, time.Since(start).Round(time.Millisecond))
	if len(claims) <= MaxBatch*16 {
		items := make([]Item, len(claims))
		for i := range claims {
			items[i] = Item{Claim: claims[i], SigningRoot: roots[i]}
		}
		enc := EncodeBatch(items)
		if len(items) > MaxBatch { // EncodeBatch does not check the count; DecodeBatch does
			enc = nil
		}
		if enc != nil {
			_ = os.WriteFile(file, enc, 0o600)
		}
	}
	return &benchSet{keys: keys, reg: reg, claims: claims, roots: roots}, nil
})

// BenchmarkPoolEndToEnd measures the pool's throughput: proofs sent over QUIC on loopback by
// several validators at once, decoded, batch-verified across senders and their nullifiers
// recorded durably in badger, until every answer is back. Each round sends the set of
// distinct real proofs (-pool.validators × -pool.epochs) to a pool with a fresh database, so
// every proof of every round is verified and recorded; rounds are repeated to reach the
// proof count wanted (-benchtime Nx: N rounds). It reports proofs/s and the CPU time per
// proof of the whole process (senders included).
func BenchmarkPoolEndToEnd(b *testing.B) {
	set, err := benchSetOnce()
	if err != nil {
		b.Fatal(err)
	}
	n := len(set.claims)
	var total, cpu time.Duration
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		d, err := db.Open(db.Config{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := New(Config{Key: set.keys.VerifyingKey(), Registry: set.reg, DB: d})
		if err != nil {
			b.Fatal(err)
		}
		sid, _ := transport.GenerateIdentity()
		var ids []*transport.Identity
		var peers []transport.PeerID
		for range *benchSenders {
			id, _ := transport.GenerateIdentity()
			ids = append(ids, id)
			peers = append(peers, id.ID())
		}
		q, err := srv.QUICServer(sid, transport.ServerConfig{Peers: peers})
		if err != nil {
			b.Fatal(err)
		}
		addr, err := q.Listen("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = srv.Run(ctx) })
		wg.Go(func() { _ = q.Run(ctx) })
		clients := make([]*Client, len(ids))
		for i, id := range ids {
			c, err := NewClient(id, ClientConfig{Addr: addr.String(), Server: sid.ID()})
			if err != nil {
				b.Fatal(err)
			}
			clients[i] = c
			wg.Go(func() { _ = c.Run(ctx) })
		}
		// Warm the connections up outside the timing.
		for _, c := range clients {
			if _, err := c.Member(ctx, [48]byte{}, 0); err == nil {
				b.Fatal("member of a zero key")
			}
		}
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		var swg sync.WaitGroup
		errc := make(chan error, len(clients))
		for s, c := range clients {
			swg.Go(func() {
				// Sender s sends every len(clients)-th chunk of the set.
				for lo := s * *benchBatch; lo < n; lo += len(clients) * *benchBatch {
					hi := min(lo+*benchBatch, n)
					errs, err := c.SubmitProofs(ctx, set.claims[lo:hi], set.roots[lo:hi])
					if err != nil {
						errc <- err
						return
					}
					for i, e := range errs {
						if e != nil {
							errc <- fmt.Errorf("proof %d: %w", lo+i, e)
							return
						}
					}
				}
			})
		}
		swg.Wait()
		total += time.Since(start)
		cpu += processCPU() - cpu0
		rounds++
		b.StopTimer()
		close(errc)
		for err := range errc {
			b.Fatal(err)
		}
		cancel()
		wg.Wait()
		d.Close()
		b.StartTimer()
	}
	proofs := float64(rounds * n)
	b.ReportMetric(proofs/total.Seconds(), "proofs/s")
	b.ReportMetric(proofs, "proofs")
	// CPU time per proof, both sides of the loopback included: what a proof costs whatever
	// else the machine runs (wall-clock proofs/s drops when other processes share the cores).
	b.ReportMetric(float64(cpu.Microseconds())/proofs, "cpu-us/proof")
}
