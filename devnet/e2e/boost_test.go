package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// newBoostHarness is a devnet node whose builder is a boost in front of two relays.
func newBoostHarness(t testing.TB) (*harness, []string, string) {
	var relayURLs []string
	var boostURL string
	h := newHarnessWith(t, func(h *harness, ln net.Listener) {
		var entries []pbs.RelayEntry
		for range 2 {
			sk, _ := bls.GenerateSecretKey()
			rln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			_, stop := h.runRelay(t.TempDir(), sk, rln)
			t.Cleanup(stop)
			pk := sk.PublicKey().Bytes()
			e, err := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s", pk[:], rln.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
			relayURLs = append(relayURLs, e.URL)
		}
		b, err := pbs.NewBoost(h.ctx, pbs.BoostConfig{Relays: entries, GenesisForkVersion: beacon.GenesisForkVersion, Logger: h.log.With("part", "boost")})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: b.Handler()}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		boostURL = "http://" + ln.Addr().String()
	}, false)
	return h, relayURLs, boostURL
}

// Two relays behind the boost sidecar, which the node uses as its builder: the node's
// registrations reach both relays; builders bid on both; the boost picks the higher bid (and
// on a tie the smaller block hash); the node unblinds through the boost, which asks the relay
// that served the header; the v2 path has that relay publish.
func TestBoostTwoRelays(t *testing.T) {
	h, relayURLs, boostURL := newBoostHarness(t)
	h.registerWithNode()
	for _, u := range relayURLs {
		resp, err := http.Get(u + "/relay/v1/data/validator_registration?pubkey=" + h.node.Genesis().Validators[0].Pubkey.String())
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("relay %s lacks the registrations the node sent through the boost: %v", u, err)
		}
		resp.Body.Close()
	}
	submit := func(slot phase0.Slot, relay int, value uint64, tag byte) *mev.Submission {
		t.Helper()
		a := h.builder.waitAttributes(slot)
		idx, pk := h.proposer(slot)
		s := h.builder.build(a, pk, feeRecipient(idx), value, tag)
		body, _ := s.Encode(pbs.MediaSSZ)
		if code, msg := h.builder.postTo(relayURLs[relay], body, pbs.MediaSSZ, "", nil); code != http.StatusOK {
			t.Fatalf("relay %d: %d %s", relay, code, msg)
		}
		return s
	}
	delivered := func(relay int, slot phase0.Slot) []mev.TraceJSON {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("%s/relay/v1/data/bidtraces/proposer_payload_delivered?slot=%d", relayURLs[relay], slot))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []mev.TraceJSON
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Slot 1: relay 1 has the higher bid.
	h.at(1, 0)
	submit(1, 0, 1_000, 1)
	high := submit(1, 1, 2_000, 2)
	if proposed, blinded, err := h.signer.Propose(h.ctx, 1); err != nil || !proposed || !blinded {
		t.Fatalf("slot 1: %v %v %v", proposed, blinded, err)
	}
	if d := delivered(1, 1); len(d) != 1 || d[0].BlockHash != high.Payload.BlockHash.String() || len(delivered(0, 1)) != 0 {
		t.Fatalf("slot 1: the higher bid's relay did not deliver: %+v", d)
	}
	h.builder.imported(high)

	// Slot 2: equal values; the smaller block hash wins.
	h.at(2, 0)
	a := submit(2, 0, 5_000, 3)
	b := submit(2, 1, 5_000, 4)
	winner, relay := a, 0
	if bytes.Compare(b.Payload.BlockHash[:], a.Payload.BlockHash[:]) < 0 {
		winner, relay = b, 1
	}
	if proposed, blinded, err := h.signer.Propose(h.ctx, 2); err != nil || !proposed || !blinded {
		t.Fatalf("slot 2: %v %v %v", proposed, blinded, err)
	}
	if d := delivered(relay, 2); len(d) != 1 || d[0].BlockHash != winner.Payload.BlockHash.String() {
		t.Fatalf("slot 2: tie not broken to the smaller block hash: %+v", d)
	}
	h.builder.imported(winner)

	// Slot 3: v2 through the boost, the relay publishes.
	h.at(3, 0)
	s := submit(3, 0, 7_000, 5)
	signed := h.blindedProposal(3, 1)
	if code, msg := h.postBlindedTo(boostURL, "/eth/v2/builder/blinded_blocks", signed); code != http.StatusAccepted {
		t.Fatalf("v2 through the boost: %d %s", code, msg)
	}
	if hs := h.headSlot(); hs != 3 {
		t.Fatalf("head at %d after v2", hs)
	}
	h.builder.imported(s)
}
