package pbs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/pbs"
)

var testFork = phase0.Version{0x10, 0, 0, 0x7a}

// fakeRelay serves getHeader with one bid: good (signed by its key), erroring (500), slow
// (answers only when the client gives up), or signed by another key than its URL names.
type fakeRelay struct {
	srv   *httptest.Server
	entry pbs.RelayEntry
	calls atomic.Int32
}

func newFakeRelay(t *testing.T, kind string, value uint64, blockHash byte) *fakeRelay {
	t.Helper()
	sk, pk := key(t)
	signer := sk
	if kind == "wrong-key" {
		signer, _ = key(t)
	}
	p := testPayload()
	p.BlockHash = phase0.Hash32{blockHash}
	h, _ := pbs.HeaderOf(p)
	m := &builderelectra.BuilderBid{Header: h, BlobKZGCommitments: []deneb.KZGCommitment{}, ExecutionRequests: &electra.ExecutionRequests{},
		Value: uint256.NewInt(value), Pubkey: phase0.BLSPubKey(signer.PublicKey().Bytes())}
	sig, _ := pbs.Sign(signer, m, pbs.BuilderDomain(testFork))
	bid := &builderspec.VersionedSignedBuilderBid{Version: spec.DataVersionElectra, Electra: &builderelectra.SignedBuilderBid{Message: m, Signature: sig}}
	f := &fakeRelay{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		switch kind {
		case "error":
			http.Error(w, `{"code":500,"message":"down"}`, http.StatusInternalServerError)
			return
		case "slow":
			<-r.Context().Done()
			return
		case "none":
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b, _ := bid.MarshalJSON()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Eth-Consensus-Version", "electra")
		_, _ = w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	e, err := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s", pk[:], strings.TrimPrefix(f.srv.URL, "http://")))
	if err != nil {
		t.Fatal(err)
	}
	f.entry = e
	return f
}

func TestBoostPicksBestBid(t *testing.T) {
	ctx := t.Context()
	parent := testPayload().ParentHash
	cases := []struct {
		name   string
		relays []*fakeRelay
		min    uint64
		want   uint64 // 0: ErrNoBid
		hash   byte
	}{
		{"highest value", []*fakeRelay{newFakeRelay(t, "good", 10, 1), newFakeRelay(t, "good", 30, 2), newFakeRelay(t, "good", 20, 3)}, 0, 30, 2},
		{"tie to the smaller block hash", []*fakeRelay{newFakeRelay(t, "good", 10, 9), newFakeRelay(t, "good", 10, 4)}, 0, 10, 4},
		{"erroring, slow, empty and wrongly signed relays are skipped", []*fakeRelay{newFakeRelay(t, "error", 99, 1),
			newFakeRelay(t, "slow", 99, 2), newFakeRelay(t, "none", 99, 3), newFakeRelay(t, "wrong-key", 99, 4), newFakeRelay(t, "good", 5, 5)}, 0, 5, 5},
		{"min bid", []*fakeRelay{newFakeRelay(t, "good", 10, 1), newFakeRelay(t, "good", 30, 2)}, 31, 0, 0},
		{"no relay has a bid", []*fakeRelay{newFakeRelay(t, "error", 1, 1), newFakeRelay(t, "none", 1, 2)}, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var entries []pbs.RelayEntry
			for _, r := range c.relays {
				entries = append(entries, r.entry)
			}
			cfg := pbs.BoostConfig{Relays: entries, GenesisForkVersion: testFork}
			if c.min > 0 {
				cfg.MinBid = uint256.NewInt(c.min)
			}
			b, err := pbs.NewBoost(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			bid, err := b.GetHeader(ctx, 1, parent, phase0.BLSPubKey{1})
			if c.want == 0 {
				if !errors.Is(err, pbs.ErrNoBid) {
					t.Fatalf("got %v, %v; want ErrNoBid", bid, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, _ := bid.Value()
			h, _ := bid.BlockHash()
			if v.Uint64() != c.want || h[0] != c.hash {
				t.Fatalf("chose value %d block %x, want %d block %x", v.Uint64(), h[0], c.want, c.hash)
			}
			for i, r := range c.relays {
				if n := r.calls.Load(); n != 1 {
					t.Fatalf("relay %d asked %d times", i, n)
				}
			}
		})
	}
}

func TestParseRelayURL(t *testing.T) {
	_, pk := key(t)
	good := fmt.Sprintf("http://%#x@127.0.0.1:1/", pk[:])
	e, err := pbs.ParseRelayURL(good)
	if err != nil || e.URL != "http://127.0.0.1:1" || e.Pubkey != pk {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{"http://127.0.0.1:1", "ftp://" + good[7:], "http://0x12@127.0.0.1:1", "://x"} {
		if _, err := pbs.ParseRelayURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{}); err == nil {
		t.Error("a boost without relays")
	}
}

// getPayload retries a relay that fails, and refuses a payload that does not match the header.
func TestBoostGetPayloadRetriesAndChecks(t *testing.T) {
	p := testPayload()
	h, _ := pbs.HeaderOf(p)
	other := testPayload()
	other.GasUsed++
	for _, c := range []struct {
		name     string
		failures int32
		payload  *deneb.ExecutionPayload
		ok       bool
	}{
		{"answers at once", 0, p, true},
		{"fails twice, then answers", 2, p, true},
		{"fails more than the attempts", 5, p, false},
		{"answers another payload", 0, other, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			resp, _ := pbs.PayloadResponse(spec.DataVersionElectra, c.payload, nil)
			body, _ := resp.MarshalJSON()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= c.failures {
					http.Error(w, `{"code":503,"message":"busy"}`, http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Eth-Consensus-Version", "electra")
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			_, pk := key(t)
			e, _ := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s", pk[:], strings.TrimPrefix(srv.URL, "http://")))
			b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{e}, GenesisForkVersion: testFork})
			if err != nil {
				t.Fatal(err)
			}
			blk := &apiv1electra.SignedBlindedBeaconBlock{Message: &apiv1electra.BlindedBeaconBlock{Slot: 1,
				Body: &apiv1electra.BlindedBeaconBlockBody{ETH1Data: &phase0.ETH1Data{BlockHash: make([]byte, 32)},
					SyncAggregate: &altair.SyncAggregate{SyncCommitteeBits: make([]byte, 64)}, ExecutionPayloadHeader: h,
					ExecutionRequests: &electra.ExecutionRequests{}}}}
			got, err := b.GetPayload(context.Background(), &consensusapi.VersionedSignedBlindedProposal{Version: spec.DataVersionElectra, Electra: blk}, false)
			if !c.ok {
				if !errors.Is(err, pbs.ErrNoPayload) {
					t.Fatalf("got %v, want ErrNoPayload", err)
				}
				return
			}
			if err != nil || got.Electra.ExecutionPayload.BlockHash != p.BlockHash {
				t.Fatalf("payload: %v", err)
			}
			if n := calls.Load(); n != c.failures+1 {
				t.Fatalf("%d calls, want %d", n, c.failures+1)
			}
		})
	}
}
