package beacon

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// benchEpoch is one epoch of single attestations of a devnet of n validators, signed once and
// reused by every benchmark iteration on a fresh node.
type benchEpoch struct {
	gen   *Genesis
	slots [][]*electra.SingleAttestation // per slot of epoch 1
}

var (
	benchMu    sync.Mutex
	benchCache = map[int]*benchEpoch{}
)

var benchGenesis = time.Unix(1_800_000_000, 0)

func benchNode(b *testing.B, n int, now func() time.Time, gen *Genesis) *Node {
	node, err := New(context.Background(), Config{Validators: n, GenesisTime: benchGenesis, Now: now, genesis: gen})
	if err != nil {
		b.Fatal(err)
	}
	return node
}

// epochOfAttestations signs every validator's attestation of epoch 1 (slots 8-15) on an empty
// chain: data from the node itself, signatures from the devnet keys on all cores.
func epochOfAttestations(b *testing.B, n int) *benchEpoch {
	benchMu.Lock()
	defer benchMu.Unlock()
	if be, ok := benchCache[n]; ok {
		return be
	}
	gen, err := DeriveGenesis(context.Background(), DefaultMnemonic, n)
	if err != nil {
		b.Fatal(err)
	}
	var now time.Time
	node := benchNode(b, n, func() time.Time { return now }, gen)
	spe := node.preset.SlotsPerEpoch
	be := &benchEpoch{gen: gen, slots: make([][]*electra.SingleAttestation, spe)}
	type job struct {
		att *electra.SingleAttestation
		msg [32]byte
	}
	var jobs []job
	for s := uint64(0); s < spe; s++ {
		slot := phase0.Slot(spe + s)
		now = node.slotStart(slot).Add(time.Second)
		data, err := node.AttestationData(slot)
		if err != nil {
			b.Fatal(err)
		}
		dataRoot, _ := data.HashTreeRoot()
		msg := consensus.SigningRoot(dataRoot, node.domain(consensus.DomainBeaconAttester, data.Target.Epoch))
		node.mu.Lock()
		ei, err := node.epoch(1)
		node.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		for idx, d := range ei.duty {
			if d.slot == slot {
				a := &electra.SingleAttestation{CommitteeIndex: d.committee, AttesterIndex: idx, Data: data}
				be.slots[s] = append(be.slots[s], a)
				jobs = append(jobs, job{a, msg})
			}
		}
	}
	var wg sync.WaitGroup
	ch := make(chan job)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				j.att.Signature = phase0.BLSSignature(gen.Secrets[j.att.AttesterIndex].Sign(j.msg[:]).Bytes())
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	benchCache[n] = be
	return be
}

// BenchmarkAttestationsEpoch checks one epoch of single attestations of n validators arriving
// slot by slot (each slot's attestations in one submission, as a node receives them in the slot's
// window): data, committee, slashing history, batched signatures, votes. It reports attestations
// checked per second, the CPU time of the process per epoch and per slot. With 8,000 validators
// and 8-slot epochs, 1,000 attestations arrive every slot.
func BenchmarkAttestationsEpoch(b *testing.B) {
	for _, n := range []int{1000, 8000, 10000} {
		b.Run(fmt.Sprintf("validators=%d", n), func(b *testing.B) {
			be := epochOfAttestations(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var now time.Time
				node := benchNode(b, n, func() time.Time { return now }, be.gen)
				b.StartTimer()
				c0 := cpuTime()
				for s, atts := range be.slots {
					now = node.slotStart(phase0.Slot(uint64(len(be.slots)) + uint64(s))).Add(time.Second)
					if f := node.SubmitAttestations(atts); len(f) != 0 {
						b.Fatalf("slot %d: %d refused, first: %s", s, len(f), f[0].Message)
					}
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "attestations/s")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/epoch")
			b.ReportMetric(cpu.Seconds()*1000/float64(b.N*len(be.slots)), "cpu-ms/slot")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
