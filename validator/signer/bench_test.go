package signer

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEpochSigningPer1000Keys is one epoch's signing work of 1,000 validators on a 32-slot
// epoch: each slot's selection proofs and attestations (31 or 32 validators a slot), the
// attestations through slashing protection. It reports the CPU time of the process per epoch
// (cpu-ms/epoch) beside the wall time (ns/op).
func BenchmarkEpochSigningPer1000Keys(b *testing.B) {
	s, sks := newSigner(b, 1000)
	ctx := context.Background()
	pks := make([]phase0.BLSPubKey, len(sks))
	for i, sk := range sks {
		pks[i] = pub(sk)
	}
	epoch := phase0.Epoch(1)
	start := cpuTime()
	for b.Loop() {
		for slot := range 32 {
			sl := phase0.Slot(uint64(epoch)*32 + uint64(slot))
			mine := pks[slot*len(pks)/32 : (slot+1)*len(pks)/32]
			if _, err := s.SignSelectionProofs(sl, mine); err != nil {
				b.Fatal(err)
			}
			data := attData(sl, epoch-1, epoch, byte(slot))
			reqs := make([]AttestationRequest, len(mine))
			for i, pk := range mine {
				reqs[i] = AttestationRequest{Pubkey: pk, Data: data}
			}
			if _, errs := s.SignAttestations(ctx, reqs); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
		epoch++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/epoch")
}
