package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// quicDoor is the relay's QUIC server on 127.0.0.1 with one pinned peer (the builder's key).
type quicDoor struct {
	addr    string
	relayID *transport.Identity
	peerID  *transport.Identity
	reg     *prometheus.Registry
}

func quicTestConfig(reg prometheus.Registerer) transport.Config {
	return transport.Config{HandshakeTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second, KeepAlive: time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, DrainTimeout: 2 * time.Second, Registerer: reg}
}

func startQUICDoor(t testing.TB, h *harness) *quicDoor {
	t.Helper()
	d := &quicDoor{reg: prometheus.NewRegistry()}
	var err error
	if d.relayID, err = transport.GenerateIdentity(); err != nil {
		t.Fatal(err)
	}
	if d.peerID, err = transport.GenerateIdentity(); err != nil {
		t.Fatal(err)
	}
	srv, err := h.relay.QUICServer(d.relayID, transport.ServerConfig{Config: quicTestConfig(d.reg), Peers: []transport.PeerID{d.peerID.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = addr.String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("QUIC server Run: %v", err)
		}
	})
	return d
}

// client runs a transport client with identity id, pinning the relay's key, until the test ends.
func (d *quicDoor) client(t testing.TB, id *transport.Identity) *transport.Client {
	t.Helper()
	c, err := transport.NewClient(id, transport.ClientConfig{Config: quicTestConfig(prometheus.NewRegistry()), Addr: d.addr, Server: d.relayID.ID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("client Run: %v", err)
		}
	})
	return c
}

func submitQUIC(t testing.TB, c *transport.Client, s *mev.Submission, cancellations bool) (frame.Frame, error) {
	t.Helper()
	f, err := mev.SubmissionFrame(s, cancellations)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Request(ctx, f)
}

// nextTopBid reads the next frame of the top-bid subscription as a signed builder bid.
func nextTopBid(t testing.TB, sub *transport.Subscription) *builderelectra.SignedBuilderBid {
	t.Helper()
	got := make(chan frame.Frame, 1)
	errc := make(chan error, 1)
	go func() {
		f, err := sub.Next()
		if err != nil {
			errc <- err
			return
		}
		got <- f
	}()
	select {
	case err := <-errc:
		t.Fatalf("top-bid stream: %v", err)
	case f := <-got:
		if f.Type != mev.TypeTopBid || spec.DataVersion(f.Fork) != spec.DataVersionElectra {
			t.Fatalf("top-bid frame of type %#x fork %d", f.Type, f.Fork)
		}
		var sb builderelectra.SignedBuilderBid
		if err := sb.UnmarshalSSZ(f.Payload); err != nil {
			t.Fatalf("top-bid frame: %v", err)
		}
		return &sb
	case <-time.After(10 * time.Second):
		t.Fatal("no top bid on the stream")
	}
	return nil
}

// A submission over QUIC goes through the same checks as over HTTP: accepted, it is the
// header getHeader serves and the top bid the stream publishes (relay-signed); refused, the
// error frame says what HTTP's 400 says.
func TestQUICSubmission(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	d := startQUICDoor(t, h)
	c := d.client(t, d.peerID)
	// The subscription lives as long as its context: the test's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, mev.TopBidTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	s := h.builder.build(a, pk, feeRecipient(idx), 1_000_000, 1)
	f, err := submitQUIC(t, c, s, false)
	if err != nil {
		t.Fatalf("valid submission over QUIC: %v", err)
	}
	slot, top, err := mev.ParseSubmitted(f)
	if err != nil || slot != 1 || !top {
		t.Fatalf("answer: slot %d top %v err %v, want slot 1, top", slot, top, err)
	}
	pushed := nextTopBid(t, sub)
	if pushed.Message.Header.BlockHash != s.Payload.BlockHash || !pushed.Message.Value.Eq(s.Trace.Value) || pushed.Message.Pubkey != h.relayPK {
		t.Fatalf("pushed bid %#x value %s by %#x, want %#x value %s by the relay", pushed.Message.Header.BlockHash, pushed.Message.Value.Dec(), pushed.Message.Pubkey, s.Payload.BlockHash, s.Trace.Value.Dec())
	}
	served, err := h.getHeader(1, a.ParentBlockHash, pk)
	if err != nil {
		t.Fatalf("getHeader after a QUIC submission: %v", err)
	}
	if served.Electra == nil || served.Electra.Message.Header.BlockHash != s.Payload.BlockHash || served.Electra.Signature != pushed.Signature {
		t.Fatalf("getHeader serves %+v, want the bid the stream pushed", served)
	}

	// A better bid (over HTTP: one auction, whichever door) is pushed too; a lower one is not the top.
	better := h.builder.build(a, pk, feeRecipient(idx), 2_000_000, 2)
	if code, msg := h.builder.post(better, pbs.MediaSSZ, "", nil); code != http.StatusOK {
		t.Fatalf("better bid over HTTP: %d %s", code, msg)
	}
	if got := nextTopBid(t, sub); got.Message.Header.BlockHash != better.Payload.BlockHash {
		t.Fatalf("pushed %#x after the better bid, want %#x", got.Message.Header.BlockHash, better.Payload.BlockHash)
	}

	// Refused: the same broken submission gets the same reason at both doors.
	bad := h.builder.build(a, pk, feeRecipient(idx), 3_000_000, 3)
	bad.Payload.Timestamp++
	code, body := h.builder.post(bad, pbs.MediaSSZ, "", nil)
	var httpErr struct{ Message string }
	if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &httpErr) != nil || !strings.HasPrefix(httpErr.Message, "timestamp:") {
		t.Fatalf("HTTP: %d %s, want 400 from the timestamp check", code, body)
	}
	_, err = submitQUIC(t, c, bad, false)
	var te *transport.Error
	if !errors.As(err, &te) || te.Code != transport.ErrCodeRequestRejected || !te.Remote || te.Message != httpErr.Message {
		t.Fatalf("QUIC refusal %v, want ErrCodeRequestRejected with %q", err, httpErr.Message)
	}
	// A frame that is not a submission is refused by the decode step, not with a panic.
	req := frame.Frame{Type: mev.TypeSubmission, Fork: frame.Fork(spec.DataVersionElectra), Payload: []byte{0, 1, 2}}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if _, err := c.Request(rctx, req); !errors.As(err, &te) || !strings.HasPrefix(te.Message, "decode") {
		t.Fatalf("garbage submission: %v, want a decode refusal", err)
	}
}

// A peer whose key the relay has not pinned is refused in the handshake: no stream, no
// submission.
func TestQUICUnpinnedPeer(t *testing.T) {
	h := newHarness(t)
	d := startQUICDoor(t, h)
	stranger, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c := d.client(t, stranger)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := frame.Frame{Type: mev.TypeSubmission, Payload: []byte{0}}
	// TLS 1.3: the client may finish its side of the handshake before the relay checks its
	// certificate, so the refusal reaches it as the relay's TLS alert or as no connection.
	if _, err := c.Request(ctx, req); err == nil || !(errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "bad certificate")) {
		t.Fatalf("unpinned peer's request: %v, want the relay's TLS alert or no connection", err)
	}
	n, err := testutil.GatherAndCount(d.reg, "zkv_transport_handshake_failures_total")
	if err != nil || n == 0 {
		t.Fatalf("handshake failures counted: %d %v, want the refused stranger", n, err)
	}
	if n, err := testutil.GatherAndCount(d.reg, "zkv_transport_connections_total"); err != nil || n != 0 {
		t.Fatalf("%d connection series (%v), want no connection accepted from an unpinned peer", n, err)
	}
}

// BenchmarkQUICSubmissionToTopBid: a builder's submission over the QUIC door until the new top
// bid, relay-signed, arrives on a subscriber's stream (one connection for both, loopback):
// decode, every check, batch-verify, durable store, auction, BLS signing and the push. The
// builder raises its bid with cancellations, so each submission is the new top bid.
func BenchmarkQUICSubmissionToTopBid(b *testing.B) {
	for _, size := range []int{0, 350_000} {
		b.Run(fmt.Sprintf("tx=%dB", size), func(b *testing.B) {
			h, s, _ := benchHarness(b, size)
			d := startQUICDoor(b, h)
			c := d.client(b, d.peerID)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub, err := c.Subscribe(ctx, mev.TopBidTopic)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			ds := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				// Each bid beats the last (benchHarness's bid, without cancellations, is
				// the floor); the builder's signing is not the relay's time.
				b.StopTimer()
				s.Trace.Value = uint256.NewInt(uint64(2_000 + i))
				h.builder.resign(s)
				req, err := mev.SubmissionFrame(s, true)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(req.Payload)))
				b.StartTimer()
				start := time.Now()
				if _, err := c.Request(ctx, req); err != nil {
					b.Fatal(err)
				}
				f, err := sub.Next()
				if err != nil || f.Type != mev.TypeTopBid {
					b.Fatalf("top bid: type %#x, %v", f.Type, err)
				}
				ds = append(ds, time.Since(start))
			}
			b.StopTimer()
			reportPercentiles(b, ds)
		})
	}
}
