package pbs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// waitFor polls cond until it holds; the generous deadline only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A relay's QUIC top-bid stream (a real transport server publishing on relay/top_bids, as
// zkv relay's door does): getHeader answers from the streamed bid for the asked slot and parent,
// confirmed by one getHeader to that relay (what it serves over HTTP is what it releases), asks
// over HTTP for any other auction, refuses streamed bids signed by another key, and goes back to
// HTTP when the stream ends.
func TestBoostQUICStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	parent := phase0.Hash32{7}
	httpSide := newHeaderRelay(t, "none", 5, parent, 1, 1) // its HTTP side: no bid, until set
	relayID, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	boostID, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := transport.NewServer(relayID, transport.ServerConfig{Peers: []transport.PeerID{boostID.ID()}, Topics: []string{pbs.TopBidTopic}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	srvCtx, stopSrv := context.WithCancel(ctx)
	wg.Go(func() { _ = srv.Run(srvCtx) })
	entry := httpSide.entry
	entry.QUICAddr, entry.QUICPeer = addr.String(), relayID.ID()

	clock := &fixedClock{}
	clock.at(5, 0)
	reg := prometheus.NewRegistry()
	cfg := pbs.BoostConfig{Relays: []pbs.RelayEntry{entry}, GenesisForkVersion: testFork, GenesisTime: testGenesis, SlotDuration: testSlotTime,
		Now: clock.Now, Registerer: reg}
	if _, err := pbs.NewBoost(ctx, cfg); err == nil {
		t.Fatal("a relay with a QUIC door and no identity was accepted")
	}
	cfg.Identity = boostID
	b, err := pbs.NewBoost(ctx, pbs.BoostConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = b.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	publish := func(f frame.Frame) int {
		n, err := srv.Publish(pbs.TopBidTopic, f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bidFrame := func(bid []byte) frame.Frame {
		return frame.Frame{Type: pbs.TopBidFrameType, Fork: frame.Fork(spec.DataVersionElectra), Payload: bid}
	}
	accepted := func() float64 {
		m := findSeries(t, reg, "zkv_boost_streamed_bids_total", map[string]string{"result": "accepted"})
		if m == nil {
			return 0
		}
		return m.GetCounter().GetValue()
	}
	refused := func() float64 {
		m := findSeries(t, reg, "zkv_boost_streamed_bids_total", map[string]string{"result": "refused"})
		if m == nil {
			return 0
		}
		return m.GetCounter().GetValue()
	}

	topBid := httpSide.sign(t, 5, parent, 100, 9)
	top, _ := topBid.Electra.MarshalSSZ()
	waitFor(t, "the boost's subscription", func() bool { return publish(bidFrame(top)) > 0 })
	waitFor(t, "the streamed bid", func() bool { return accepted() >= 1 })
	confirms := func(result string) float64 {
		m := findSeries(t, reg, "zkv_boost_stream_confirmations_total", map[string]string{"result": result})
		if m == nil {
			return 0
		}
		return m.GetCounter().GetValue()
	}
	value := func(slot phase0.Slot, parent phase0.Hash32) uint64 {
		t.Helper()
		bid, err := b.GetHeader(ctx, slot, parent, phase0.BLSPubKey{})
		if errors.Is(err, pbs.ErrNoBid) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _ := bid.Value()
		return v.Uint64()
	}

	// Over HTTP the relay serves the streamed bid: the stream answers, and the relay confirms
	// it with one getHeader (a zkv relay releases payloads only for headers it served).
	httpSide.mu.Lock()
	httpSide.bid = topBid
	httpSide.mu.Unlock()
	httpSide.mode.Store("good")
	if v := value(5, parent); v != 100 || len(httpSide.headerCalls()) != 1 || confirms("same") != 1 {
		t.Fatalf("value %d, HTTP asked %d times, %v confirmations; want 100 from the stream, confirmed once", v, len(httpSide.headerCalls()), confirms("same"))
	}
	if !hasSeries(t, reg, "zkv_boost_get_header_relay_answers_total", map[string]string{"path": "quic", "result": "bid"}) {
		t.Fatal("the metrics do not say the QUIC path answered")
	}
	// The relay serves another bid than it streamed: the served one is returned.
	httpSide.mu.Lock()
	httpSide.bid = httpSide.sign(t, 5, parent, 150, 10)
	httpSide.mu.Unlock()
	if v := value(5, parent); v != 150 || confirms("changed") != 1 {
		t.Fatalf("value %d, %v changed confirmations; want the served 150", v, confirms("changed"))
	}
	// The relay serves nothing: the streamed bid, which it would not release, is not returned.
	httpSide.mode.Store("none")
	if v := value(5, parent); v != 0 || confirms("no_bid") != 1 {
		t.Fatalf("value %d with the relay serving no header; want no bid", v)
	}
	calls := len(httpSide.headerCalls())

	// Another parent, another slot: the stream has no bid for them, HTTP is asked (204).
	if _, err := b.GetHeader(ctx, 5, phase0.Hash32{8}, phase0.BLSPubKey{}); !errors.Is(err, pbs.ErrNoBid) || len(httpSide.headerCalls()) != calls+1 {
		t.Fatalf("other parent: %v, HTTP asked %d times", err, len(httpSide.headerCalls()))
	}
	clock.at(6, 0)
	if _, err := b.GetHeader(ctx, 6, parent, phase0.BLSPubKey{}); !errors.Is(err, pbs.ErrNoBid) || len(httpSide.headerCalls()) != calls+2 {
		t.Fatalf("other slot: %v, HTTP asked %d times", err, len(httpSide.headerCalls()))
	}

	// Bids the boost refuses: signed by another key than the relay's, not SSZ, another type.
	sk, _ := key(t)
	forged, _ := signedTestBid(t, sk, 6, parent, 1_000, 3).Electra.MarshalSSZ()
	publish(bidFrame(forged))
	publish(bidFrame([]byte{1, 2, 3}))
	publish(frame.Frame{Type: 0x21, Payload: top})
	waitFor(t, "three refusals", func() bool { return refused() >= 3 })
	if _, err := b.GetHeader(ctx, 6, parent, phase0.BLSPubKey{}); !errors.Is(err, pbs.ErrNoBid) {
		t.Fatalf("a forged streamed bid was served: %v", err)
	}

	// The stream ends: back to HTTP for every auction, the streamed bid forgotten.
	stopSrv()
	waitFor(t, "the stream to end", func() bool {
		m := findSeries(t, reg, "zkv_boost_relay_stream_up", nil)
		return m != nil && m.GetGauge().GetValue() == 0
	})
	clock.at(5, 0)
	calls = len(httpSide.headerCalls())
	if _, err := b.GetHeader(ctx, 5, parent, phase0.BLSPubKey{}); !errors.Is(err, pbs.ErrNoBid) || len(httpSide.headerCalls()) != calls+1 {
		t.Fatalf("after the stream ended: %v, HTTP asked %d more times", err, len(httpSide.headerCalls())-calls)
	}
}

func TestParseRelayURLQUIC(t *testing.T) {
	_, pk := key(t)
	id, _ := transport.GenerateIdentity()
	s := "http://" + "0x" + hexOf(pk[:]) + "@127.0.0.1:1#quic=127.0.0.1:9000@" + id.ID().String()
	e, err := pbs.ParseRelayURL(s)
	if err != nil || e.URL != "http://127.0.0.1:1" || e.QUICAddr != "127.0.0.1:9000" || e.QUICPeer != id.ID() {
		t.Fatalf("%+v %v", e, err)
	}
	if back, err := pbs.ParseRelayURL(e.String()); err != nil || back != e {
		t.Fatalf("round trip through String: %+v %v", back, err)
	}
	for _, bad := range []string{"#quic=127.0.0.1@" + id.ID().String(), "#quic=127.0.0.1:9000@12", "#udp=127.0.0.1:9000@" + id.ID().String(), "#quic=127.0.0.1:9000"} {
		if _, err := pbs.ParseRelayURL("http://0x" + hexOf(pk[:]) + "@127.0.0.1:1" + bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
