package slashing

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/db"
)

// benchProtector runs a Protector on a real, synced badger directory.
func benchProtector(b *testing.B, cfg Config) *Protector {
	b.Helper()
	d, err := db.Open(db.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	cfg.DB = d
	return startProtector(b, cfg)
}

const epochKeys = 10000

// BenchmarkEpoch is one epoch of attestation duties for 10,000 validators: 10,000
// check-and-record requests, durable before answered. One op is one epoch. "batch" submits the
// epoch through CheckAndRecordAttestations; "goroutines" has one caller goroutine per validator,
// as a validator client with a goroutine per duty does. "folding" uses a history of 2, so every
// request also deletes its oldest record and rewrites the watermark (three writes a request,
// the steady state of a long-running Complete protector).
func BenchmarkEpoch(b *testing.B) {
	for _, mode := range []struct {
		name    string
		history int
		submit  func(*Protector, []Attestation) error
	}{
		{"batch", 0, submitBatch},
		{"goroutines", 0, submitGoroutines},
		{"batch-folding", 2, submitBatch},
		{"goroutines-folding", 2, submitGoroutines},
	} {
		b.Run(mode.name, func(b *testing.B) {
			p := benchProtector(b, Config{History: mode.history})
			reqs := make([]Attestation, epochKeys)
			epoch := uint64(0)
			next := func() {
				for i := range reqs {
					reqs[i] = Attestation{Pubkey: pk(i), Source: epoch, Target: epoch + 1, SigningRoot: root(int(epoch))}
				}
				epoch++
			}
			// Warm up: every validator known, and with history 2 the history full.
			for range 3 {
				next()
				if err := mode.submit(p, reqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				next()
				b.StartTimer()
				if err := mode.submit(p, reqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/epoch")
		})
	}
}

func submitBatch(p *Protector, reqs []Attestation) error {
	for i, err := range p.CheckAndRecordAttestations(context.Background(), reqs) {
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
	return nil
}

func submitGoroutines(p *Protector, reqs []Attestation) error {
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for _, a := range reqs {
		wg.Go(func() {
			if err := p.CheckAndRecordAttestation(context.Background(), a); err != nil {
				first.CompareAndSwap(nil, &err)
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return *e
	}
	return nil
}

// BenchmarkLatencyUnderLoad measures single check-and-record calls while 256 goroutines (each
// for its own validators) keep the committer busy: p50 and p99 per call, durable.
func BenchmarkLatencyUnderLoad(b *testing.B) {
	const callers = 256
	p := benchProtector(b, Config{})
	var (
		mu   sync.Mutex
		lats = make([]time.Duration, 0, b.N)
		n    atomic.Int64
	)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			local := make([]time.Duration, 0, b.N/callers+1)
			for e := uint64(0); n.Add(1) <= int64(b.N); e++ {
				a := Attestation{Pubkey: pk(c), Source: e, Target: e + 1, SigningRoot: root(int(e))}
				start := time.Now()
				if err := p.CheckAndRecordAttestation(context.Background(), a); err != nil {
					b.Error(err)
					return
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	}
}
