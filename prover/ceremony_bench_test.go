package prover

import (
	"os"
	"testing"
	"time"
)

// BenchmarkCeremonyDepth20 runs a whole ceremony for the depth-20 attestation circuit and the
// identity circuit, two contributions to each phase, and reports the time of each step
// (seconds) and the size of each kind of file (bytes). Run it once:
//
//	go test -run '^$' -bench CeremonyDepth20 -benchtime 1x ./prover/
func BenchmarkCeremonyDepth20(b *testing.B) {
	for b.Loop() {
		dir, cache := b.TempDir(), b.TempDir()
		step := func(name string, f func() error) {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			b.ReportMetric(time.Since(start).Seconds(), name+"-s")
		}
		var recs []CeremonyRecord
		step("init", func() error {
			r, err := InitCeremony(dir, []int{DefaultDepth})
			b.ReportMetric(float64(r.Bytes), "p1-initial-B")
			return err
		})
		step("p1-contribute", func() (err error) {
			recs, err = ContributeCeremony(dir, []byte("bench"))
			return err
		})
		b.ReportMetric(float64(recs[0].Bytes), "p1-contribution-B")
		if _, err := ContributeCeremony(dir, nil); err != nil {
			b.Fatal(err)
		}
		step("p1-verify", func() error { _, err := VerifyCeremony(dir); return err })
		step("p1-finalize", func() error { _, _, err := FinalizeCeremony(dir, []byte("beacon one"), ""); return err })
		step("p2-contribute", func() (err error) {
			recs, err = ContributeCeremony(dir, nil)
			return err
		})
		for _, r := range recs {
			b.ReportMetric(float64(r.Bytes), "p2-"+r.Circuit+"-contribution-B")
		}
		if _, err := ContributeCeremony(dir, nil); err != nil {
			b.Fatal(err)
		}
		step("p2-verify", func() error { _, err := VerifyCeremony(dir); return err })
		var keys *CeremonyKeys
		step("p2-finalize", func() (err error) {
			_, keys, err = FinalizeCeremony(dir, []byte("beacon two"), cache)
			return err
		})
		for _, p := range keys.Paths {
			if fi, err := os.Stat(p); err == nil {
				name := "identity-keys-B"
				if len(keys.Attestation) > 0 && p == keys.Paths[0] {
					name = "d20-keys-B"
				}
				b.ReportMetric(float64(fi.Size()), name)
			}
		}
		step("verify-all", func() error { _, err := VerifyCeremony(dir); return err })
	}
}
