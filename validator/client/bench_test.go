package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	vkeys "github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// benchNode is a minimal Beacon API server on 127.0.0.1: what go-eth2-client's HTTP client asks
// at start, attestation data for any slot, and a pool that reads and counts what it is sent.
type benchNode struct {
	srv      *httptest.Server
	received atomic.Int64 // request bodies' bytes
}

func newBenchNode(tb testing.TB) *benchNode {
	n := &benchNode{}
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, v string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, v)
	}
	mux.HandleFunc("GET /eth/v1/node/syncing", func(w http.ResponseWriter, _ *http.Request) {
		write(w, `{"data":{"head_slot":"0","sync_distance":"0","is_syncing":false,"is_optimistic":false,"el_offline":false}}`)
	})
	mux.HandleFunc("GET /eth/v1/node/version", func(w http.ResponseWriter, _ *http.Request) {
		write(w, `{"data":{"version":"bench/v0"}}`)
	})
	mux.HandleFunc("GET /eth/v1/config/spec", func(w http.ResponseWriter, _ *http.Request) {
		write(w, `{"data":{"SLOTS_PER_EPOCH":"32","SECONDS_PER_SLOT":"12","ELECTRA_FORK_EPOCH":"0","FULU_FORK_EPOCH":"18446744073709551615"}}`)
	})
	mux.HandleFunc("GET /eth/v1/validator/attestation_data", func(w http.ResponseWriter, r *http.Request) {
		var slot uint64
		fmt.Sscan(r.URL.Query().Get("slot"), &slot)
		e := slot / 32
		d := &phase0.AttestationData{Slot: phase0.Slot(slot), BeaconBlockRoot: phase0.Root{1, byte(slot)},
			Source: &phase0.Checkpoint{Epoch: phase0.Epoch(e - 1), Root: phase0.Root{2}}, Target: &phase0.Checkpoint{Epoch: phase0.Epoch(e), Root: phase0.Root{3, byte(e)}}}
		b, _ := json.Marshal(d)
		write(w, `{"data":`+string(b)+`}`)
	})
	mux.HandleFunc("POST /eth/v2/beacon/pool/attestations", func(w http.ResponseWriter, r *http.Request) {
		k, _ := io.Copy(io.Discard, r.Body)
		n.received.Add(k)
		w.WriteHeader(http.StatusOK)
	})
	n.srv = httptest.NewServer(mux)
	tb.Cleanup(n.srv.Close)
	return n
}

// newBenchService is a Service with keys random keys, a Protector on a badger database on disk
// (durable writes, as in production) and go-eth2-client's HTTP client to a benchNode.
func newBenchService(tb testing.TB, keys int) (*Service, []phase0.BLSPubKey) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := db.Open(db.Config{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	prot, err := slashing.New(slashing.Config{DB: d})
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = prot.Run(ctx) })
	tb.Cleanup(func() { cancel(); wg.Wait(); d.Close() })
	ks := make([]*vkeys.Key, keys)
	for i := range ks {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			tb.Fatal(err)
		}
		ks[i] = &vkeys.Key{Secret: sk, Public: sk.PublicKey()}
	}
	net, err := signer.NewNetwork(signer.NetworkConfig{SlotsPerEpoch: 32, Forks: []signer.Fork{{Epoch: 0, Version: phase0.Version{5}}}})
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := signer.New(net, prot, ks)
	if err != nil {
		tb.Fatal(err)
	}
	node := newBenchNode(tb)
	svc, err := eth2http.New(ctx, eth2http.WithAddress(node.srv.URL), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(ctx, WithBeaconClient(svc.(BeaconNode)), WithKeystores("unused", "unused"), WithDatabase("unused"),
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	s.bn, s.net, s.sig = svc.(BeaconNode), net, sig
	s.spec = chainSpec{slotsPerEpoch: 32, slotDuration: 12 * time.Second, fuluEpoch: 1 << 62, targetAggregators: 16}
	pks := make([]phase0.BLSPubKey, keys)
	for i, k := range ks {
		pks[i] = phase0.BLSPubKey(k.Public.Bytes())
	}
	return s, pks
}

// slotDuties are n attester duties at slot, 128 to a committee.
func slotDuties(pks []phase0.BLSPubKey, slot phase0.Slot) []*attesterDuty {
	out := make([]*attesterDuty, len(pks))
	for i, pk := range pks {
		out[i] = &attesterDuty{AttesterDuty: &apiv1.AttesterDuty{PubKey: pk, Slot: slot, ValidatorIndex: phase0.ValidatorIndex(i),
			CommitteeIndex: phase0.CommitteeIndex(i / 128 % 64), CommitteeLength: 128, CommitteesAtSlot: 64, ValidatorCommitteeIndex: uint64(i % 128)}}
	}
	return out
}

// BenchmarkSlotAttestations is the per-slot attestation latency: from the request for the slot's
// attestation data to every attestation approved by slashing protection (one group commit,
// synced to disk), signed and accepted by the beacon node over HTTP. keys is the client's key
// count; per_slot how many of them attest in the slot: keys/32 on mainnet, where each validator
// attests once in a 32-slot epoch, or all of them (the worst case, every key in one slot).
func BenchmarkSlotAttestations(b *testing.B) {
	for _, c := range []struct{ keys, perSlot int }{{1000, 1000 / 32}, {1000, 1000}, {10000, 10000 / 32}, {10000, 10000}} {
		b.Run(fmt.Sprintf("keys=%d/per_slot=%d", c.keys, c.perSlot), func(b *testing.B) {
			s, pks := newBenchService(b, c.keys)
			ctx := context.Background()
			var reports atomic.Int64
			s.o.reports = func(r Report) {
				if r.Err != nil || r.Done != c.perSlot {
					b.Errorf("slot %d: %d done, %d failed: %v", r.Slot, r.Done, r.Failed, r.Err)
				}
				reports.Add(1)
			}
			epoch := 1
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				// Each iteration is a new epoch's slot, so that slashing protection approves.
				slot := phase0.Slot(epoch * 32)
				epoch++
				start := (epoch * c.perSlot) % (c.keys - c.perSlot + 1)
				s.attest(ctx, slot, slotDuties(pks[start:start+c.perSlot], slot))
			}
			b.ReportMetric(float64(c.perSlot), "attestations/op")
		})
	}
}

// BenchmarkMemoryPer1000Keys measures the live heap a client holds per 1,000 keys: secret and
// public keys, the signer, slashing protection's in-memory records after 64 epochs of
// attestations (its default history), and one epoch's duties with their selection proofs. The
// fixed costs (badger's tables, the HTTP client) are taken out by measuring a client with one key
// the same way and subtracting. It reports MB per 1,000 keys.
func BenchmarkMemoryPer1000Keys(b *testing.B) {
	heap := func(keys int) uint64 {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		s, pks := newBenchService(b, keys)
		ctx := context.Background()
		prot := s.sig.Protector()
		for e := 1; e <= 64; e++ {
			req := make([]slashing.Attestation, len(pks))
			for i, pk := range pks {
				req[i] = slashing.Attestation{Pubkey: slashing.Pubkey(pk), Source: uint64(e - 1), Target: uint64(e), SigningRoot: slashing.Root{byte(e)}}
			}
			for i, err := range prot.CheckAndRecordAttestations(ctx, req) {
				if err != nil {
					b.Fatalf("epoch %d key %d: %v", e, i, err)
				}
			}
		}
		d := &epochDuties{attesters: map[phase0.Slot][]*attesterDuty{}}
		for i, ad := range slotDuties(pks, 65*32) {
			slot := phase0.Slot(65*32 + i%32)
			ad.Slot = slot
			d.attesters[slot] = append(d.attesters[slot], ad)
		}
		s.duties[65] = d
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(s)
		runtime.KeepAlive(pks)
		return after.HeapAlloc - before.HeapAlloc
	}
	for b.Loop() {
		one := heap(1)
		many := heap(1001)
		b.ReportMetric(float64(many-one)/(1<<20), "MB/1000keys")
		b.ReportMetric(float64(one)/(1<<20), "MB_fixed")
	}
}
