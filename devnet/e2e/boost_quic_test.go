package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
)

// boostQUIC is a devnet node whose builder is a boost in front of two zkv relays, each with its
// QUIC door open to the boost's key and named in the boost's relay URL (#quic=ADDR@ID).
type boostQUIC struct {
	*harness
	relayURLs []string // plain HTTP base URLs
	boostURL  string
	boost     *pbs.Boost
	reg       *prometheus.Registry
}

func newBoostQUICHarness(t testing.TB) *boostQUIC {
	t.Helper()
	bq := &boostQUIC{reg: prometheus.NewRegistry()}
	bq.harness = newHarnessWith(t, func(h *harness, ln net.Listener) {
		boostID, err := transport.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		var entries []pbs.RelayEntry
		for range 2 {
			sk, _ := bls.GenerateSecretKey()
			rln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			r, stop := h.runRelay(t.TempDir(), sk, rln)
			t.Cleanup(stop)
			relayID, err := transport.GenerateIdentity()
			if err != nil {
				t.Fatal(err)
			}
			srv, err := r.QUICServer(relayID, transport.ServerConfig{Config: quicTestConfig(prometheus.NewRegistry()), Peers: []transport.PeerID{boostID.ID()}})
			if err != nil {
				t.Fatal(err)
			}
			addr, err := srv.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			pk := sk.PublicKey().Bytes()
			e, err := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s#quic=%s@%s", pk[:], rln.Addr(), addr, relayID.ID()))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
			bq.relayURLs = append(bq.relayURLs, e.URL)
		}
		b, err := pbs.NewBoost(h.ctx, pbs.BoostConfig{Relays: entries, GenesisForkVersion: beacon.GenesisForkVersion,
			GenesisTime: genesisTime, SlotDuration: 2 * time.Second, Now: h.clock.Now, Identity: boostID, Registerer: bq.reg,
			Logger: h.log.With("part", "boost")})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		srv := &http.Server{Handler: b.Handler()}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); cancel(); <-done })
		bq.boost, bq.boostURL = b, "http://"+ln.Addr().String()
	}, false)
	// Both streams up before any bid: a bid published earlier would not reach the boost.
	deadline := time.Now().Add(20 * time.Second)
	for bq.streamsUp() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the boost did not subscribe to both relays' top-bid streams")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return bq
}

func (bq *boostQUIC) sum(name string, labels map[string]string) float64 {
	mfs, err := bq.reg.Gather()
	if err != nil {
		bq.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		ok := false
		for _, lp := range m.GetLabel() {
			ok = ok || (lp.GetName() == k && lp.GetValue() == v)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (bq *boostQUIC) streamsUp() int { return int(bq.sum("zkv_boost_relay_stream_up", nil)) }

// waitStreamed waits until the boost has accepted n streamed top bids in all.
func (bq *boostQUIC) waitStreamed(n int) {
	bq.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for bq.sum("zkv_boost_streamed_bids_total", map[string]string{"result": "accepted"}) < float64(n) {
		if time.Now().After(deadline) {
			bq.t.Fatalf("the boost did not receive %d streamed top bids", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// submitTo has the builder bid value on relay i for slot.
func (bq *boostQUIC) submitTo(i int, slot phase0.Slot, value uint64, tag byte) *mev.Submission {
	bq.t.Helper()
	a := bq.builder.waitAttributes(slot)
	idx, pk := bq.proposer(slot)
	s := bq.builder.build(a, pk, feeRecipient(idx), value, tag)
	body, _ := s.Encode(pbs.MediaSSZ)
	if code, msg := bq.builder.postTo(bq.relayURLs[i], body, pbs.MediaSSZ, "", nil); code != http.StatusOK {
		bq.t.Fatalf("relay %d: %d %s", i, code, msg)
	}
	return s
}

// The boost's frame constants are the relay's (pbs cannot import mev).
func TestBoostQUICFrameConstants(t *testing.T) {
	if pbs.TopBidFrameType != mev.TypeTopBid || pbs.TopBidTopic != mev.TopBidTopic {
		t.Fatalf("pbs has %#x %q, mev %#x %q", pbs.TopBidFrameType, pbs.TopBidTopic, mev.TypeTopBid, mev.TopBidTopic)
	}
}

// Two zkv relays stream their top bids to the boost over their QUIC doors: the node's proposal
// takes its header from the streams (the metrics say QUIC answered), the higher bid wins, its
// relay alone is asked over HTTP to confirm it (a zkv relay releases a payload only for a header
// it served through getHeader) and delivers the payload through the boost. A relay with no
// streamed bid for the slot is asked over HTTP.
func TestBoostQUICTopBids(t *testing.T) {
	bq := newBoostQUICHarness(t)
	bq.registerWithNode()

	bq.at(1, 0)
	bq.submitTo(0, 1, 1_000, 1)
	high := bq.submitTo(1, 1, 2_000, 2)
	bq.waitStreamed(2)
	if proposed, blinded, err := bq.signer.Propose(bq.ctx, 1); err != nil || !proposed || !blinded {
		t.Fatalf("slot 1: %v %v %v", proposed, blinded, err)
	}
	if n := bq.sum("zkv_boost_get_header_relay_answers_total", map[string]string{"path": "quic", "result": "bid"}); n != 2 {
		t.Fatalf("%v bids from the streams, want 2 (one per relay)", n)
	}
	if n := bq.sum("zkv_boost_get_header_relay_answers_total", map[string]string{"path": "http"}); n != 0 {
		t.Fatalf("%v relays asked over HTTP with every bid streamed", n)
	}
	// Only the winner's relay is asked, to confirm: it releases payloads only for headers it served.
	if n := bq.sum("zkv_boost_stream_confirmations_total", map[string]string{"result": "same"}); n != 1 {
		t.Fatalf("%v confirmations of the streamed winner, want 1", n)
	}
	resp, err := http.Get(fmt.Sprintf("%s/relay/v1/data/bidtraces/proposer_payload_delivered?slot=1", bq.relayURLs[1]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !containsHash(body, high.Payload.BlockHash) {
		t.Fatalf("the streamed higher bid's relay did not deliver: %s", body)
	}
	bq.builder.imported(high)

	// Slot 2: only relay 0 has a bid; relay 1 has streamed none, so it is asked over HTTP (204).
	bq.at(2, 0)
	s := bq.submitTo(0, 2, 3_000, 3)
	bq.waitStreamed(3)
	if proposed, blinded, err := bq.signer.Propose(bq.ctx, 2); err != nil || !proposed || !blinded {
		t.Fatalf("slot 2: %v %v %v", proposed, blinded, err)
	}
	if n := bq.sum("zkv_boost_get_header_relay_answers_total", map[string]string{"path": "http", "result": "no_bid"}); n != 1 {
		t.Fatalf("%v HTTP no-bid answers in slot 2, want 1 (relay 1)", n)
	}
	bq.builder.imported(s)
}

func containsHash(body []byte, h phase0.Hash32) bool {
	return bytes.Contains(body, []byte(h.String()))
}

// BenchmarkBoostGetHeaderQUIC: BenchmarkBoostGetHeader's load with both relays' bids already
// streamed to the boost over their QUIC doors: getHeader asks only the winner's relay over HTTP,
// to confirm the header (it releases payloads only for headers it served).
func BenchmarkBoostGetHeaderQUIC(b *testing.B) {
	bq := newBoostQUICHarness(b)
	bq.registerWithNode()
	a := bq.at(1, 0)
	_, pk := bq.proposer(1)
	for i := range bq.relayURLs {
		bq.submitTo(i, 1, 1_000+uint64(i), byte(i))
	}
	bq.waitStreamed(2)
	url := bq.boostURL + "/eth/v1/builder/header/1/" + a.ParentBlockHash.String() + "/" + pk.String()
	boostLoad(b, url)
	if n := bq.sum("zkv_boost_get_header_relay_answers_total", map[string]string{"path": "http"}); n != 0 {
		b.Fatalf("%v relays asked over HTTP for a bid (confirmations aside)", n)
	}
}

// boostLoad runs getHeader on url one request at a time ("sequential") and paced at 1,000
// requests a second ("1000rps"), reporting p50 and p99.
func boostLoad(b *testing.B, url string) {
	get := func(c *http.Client) time.Duration {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	b.Run("sequential", func(b *testing.B) {
		c := &http.Client{}
		ds := make([]time.Duration, 0, b.N)
		for range b.N {
			ds = append(ds, get(c))
		}
		reportPercentiles(b, ds)
	})
	b.Run("1000rps", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		ds := make([]time.Duration, b.N)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		done := make(chan struct{}, b.N)
		for i := range b.N {
			<-tick.C
			go func() { ds[i] = get(c); done <- struct{}{} }()
		}
		for range b.N {
			<-done
		}
		reportPercentiles(b, ds)
	})
}

// The boost reads the slot clock (genesis, slot duration) from a Beacon API, here the devnet
// node's: what `zkv boost --beacon-node` does for the late-in-slot cut-off.
func TestBoostSlotClockFromNode(t *testing.T) {
	h := newHarness(t)
	c, err := pbs.FetchSlotClock(h.ctx, h.nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Genesis.Equal(genesisTime) || c.SlotDuration != 2*time.Second {
		t.Fatalf("slot clock %+v, want genesis %v and 2 s slots", c, genesisTime)
	}
	if _, err := pbs.FetchSlotClock(h.ctx, h.plainRelayURL()); err == nil {
		t.Fatal("a relay's URL gave a slot clock")
	}
}
