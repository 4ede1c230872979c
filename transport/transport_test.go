package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

func payload(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	// Half random, half zeros: compressible, like SSZ with its padding.
	for i := 0; i < n; i += 64 {
		for j := i; j < min(n, i+32); j++ {
			b[j] = byte(rng.Uint32())
		}
	}
	return b
}

func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})
	reg := prometheus.NewRegistry()
	cfg := testConfig(reg)
	cli := startClient(t, cliID, srv, cfg)

	for _, n := range []int{0, 1, 200, 1024, 20_000, 350_000} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		in := payload(n, uint64(n))
		resp, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Fork: 6, Payload: in})
		cancel()
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if resp.Type != typeEchoed || resp.Fork != 6 || !bytes.Equal(resp.Payload, in) {
			t.Fatalf("%d bytes: response type %#x fork %d, %d bytes", n, resp.Type, resp.Fork, len(resp.Payload))
		}
	}
	if got := testutil.ToFloat64(cli.m.framesOut); got != 6 {
		t.Errorf("client frames out = %v, want 6", got)
	}
	if got := testutil.ToFloat64(srv.m.framesIn); got != 6 {
		t.Errorf("server frames in = %v, want 6", got)
	}
	// The 20 KB and 350 KB payloads are half zeros: they must have gone compressed.
	if wire, raw := testutil.ToFloat64(cli.m.wireOut), testutil.ToFloat64(cli.m.payloadOut); wire >= raw {
		t.Errorf("wire bytes %v not below payload bytes %v: nothing was compressed", wire, raw)
	}
	if n := testutil.CollectAndCount(reg, "zkv_transport_compression_ratio"); n != 1 {
		t.Errorf("compression ratio histogram: %d series, want 1", n)
	}
	if got := counterValue(t, srv.m.connections, "server", "accepted"); got != 1 {
		t.Errorf("server accepted %v connections, want 1", got)
	}
}

func TestConcurrentStreams(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	slowEcho := func(ctx context.Context, p PeerID, req frame.Frame) (frame.Frame, error) {
		if req.Payload[0]%8 == 0 {
			// Some requests wait for a later one, so the streams are truly concurrent.
			time.Sleep(time.Millisecond)
		}
		return echo(ctx, p, req)
	}
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: slowEcho},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))

	const workers, each = 64, 8
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				in := payload(100+w*each+i, uint64(w*each+i))
				in[0] = byte(i)
				resp, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Payload: in})
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(resp.Payload, in) {
					errs <- fmt.Errorf("worker %d request %d: response does not match", w, i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := counterValue(t, srv.m.streams, "request"); got != workers*each {
		t.Errorf("server counted %v request streams, want %d", got, workers*each)
	}
}

func TestPublish(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	const n = 2000
	got := make(chan []byte, n)
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Messages: map[frame.Type]MessageHandler{typeMessage: func(_ context.Context, p PeerID, msg frame.Frame) {
			if p != cliID.ID() {
				t.Errorf("message from %s, want %s", p, cliID.ID())
			}
			got <- bytes.Clone(msg.Payload)
		}},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		p := binary.BigEndian.AppendUint32(payload(200+i%1000, uint64(i)), uint32(i))
		if err := cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: p}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range n {
		select {
		case p := <-got:
			if seq := binary.BigEndian.Uint32(p[len(p)-4:]); seq != uint32(i) {
				t.Fatalf("message %d arrived as number %d: order lost", seq, i)
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages", i, n)
		}
	}
	if got := counterValue(t, srv.m.streams, "publish"); got != 1 {
		t.Errorf("%v publish streams, want 1 for the whole run", got)
	}
}

func TestSlowSubscriber(t *testing.T) {
	srvID, fastID, slowID := newIdentity(t), newIdentity(t), newIdentity(t)
	cfg := testConfig(nil)
	cfg.SubscriberQueue = 4
	srv := startServer(t, srvID, ServerConfig{
		Config: cfg,
		Peers:  []PeerID{fastID.ID(), slowID.ID()},
		Topics: []string{"bids"},
	})
	fast := startClient(t, fastID, srv, testConfig(nil))
	slow := startClient(t, slowID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fastSub, err := fast.Subscribe(ctx, "bids")
	if err != nil {
		t.Fatal(err)
	}
	defer fastSub.Close()
	slowSub, err := slow.Subscribe(ctx, "bids")
	if err != nil {
		t.Fatal(err)
	}
	defer slowSub.Close()

	// Lock-step with the fast subscriber, so only the slow one can fall behind. The slow one
	// reads nothing: QUIC flow control stops its stream after about 512 KB, then its queue
	// of 4 fills and it must be dropped, while Publish keeps returning at once.
	const frames, size = 400, 4096
	dropped := -1
	for i := range frames {
		p := noise(size, uint64(i)) // incompressible, so 4 KB on the wire each
		binary.BigEndian.PutUint32(p, uint32(i))
		start := time.Now()
		sent, err := srv.Publish("bids", frame.Frame{Type: typeMessage, Payload: p})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Publish %d took %v: the publisher was blocked", i, d)
		}
		if sent == 1 && dropped < 0 {
			dropped = i
		}
		f, err := fastSub.Next()
		if err != nil {
			t.Fatalf("fast subscriber, frame %d: %v", i, err)
		}
		if seq := binary.BigEndian.Uint32(f.Payload); seq != uint32(i) || len(f.Payload) != size {
			t.Fatalf("fast subscriber got frame %d (%d bytes), want %d", seq, len(f.Payload), i)
		}
	}
	if dropped < 0 {
		t.Fatal("the slow subscriber was never dropped")
	}
	t.Logf("slow subscriber dropped at frame %d", dropped)

	// The slow subscriber learns why it was dropped.
	var read int
	for {
		_, err := slowSub.Next()
		if err != nil {
			wantCode(t, err, ErrCodeSlowSubscriber, true)
			break
		}
		read++
	}
	if read >= frames {
		t.Fatalf("slow subscriber read %d frames; it should have been cut off", read)
	}
	if got := counterValue(t, srv.m.droppedSubscribers, "SLOW_SUBSCRIBER"); got != 1 {
		t.Errorf("dropped subscribers = %v, want 1", got)
	}
	// It can subscribe again and read on.
	again, err := slow.Subscribe(ctx, "bids")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n, err := srv.Publish("bids", frame.Frame{Type: typeMessage, Payload: []byte("after")}); err != nil || n != 2 {
		t.Fatalf("Publish after resubscribe: %d subscribers, %v; want 2", n, err)
	}
	if f, err := again.Next(); err != nil || string(f.Payload) != "after" {
		t.Fatalf("resubscribed: %q, %v", f.Payload, err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{Config: testConfig(nil), Peers: []PeerID{cliID.ID()}, Topics: []string{"bids"}})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := cli.Subscribe(ctx, "blocks")
	wantCode(t, err, ErrCodeUnknownTopic, true)
	_, err = cli.Subscribe(ctx, "Bad Topic")
	wantCode(t, err, ErrCodeProtocol, false)
	if _, err := srv.Publish("blocks", frame.Frame{Type: typeMessage}); err == nil {
		t.Fatal("Publish to an unknown topic succeeded")
	}
	if _, err := srv.Publish("bids", frame.Frame{Type: TypeError}); err == nil {
		t.Fatal("Publish of a reserved frame type succeeded")
	}
	if n, err := srv.Publish("bids", frame.Frame{Type: typeMessage}); n != 0 || err != nil {
		t.Fatalf("Publish with no subscribers: %d, %v", n, err)
	}

	// Closing a subscription unblocks Next and releases the server side.
	sub, err := cli.Subscribe(ctx, "bids")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sub.Next()
		done <- err
	}()
	sub.Close()
	if err := <-done; err == nil {
		t.Fatal("Next after Close returned a frame")
	}
	eventually(t, "the server to drop the closed subscription", func() bool {
		return testutil.ToFloat64(srv.m.openStreams.WithLabelValues("subscribe")) == 0
	})
}

func TestUnknownPeerRefused(t *testing.T) {
	srvID, knownID, strangerID := newIdentity(t), newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{knownID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})

	wantRefused(t, strangerID, srv)
	if got := counterValue(t, srv.m.handshakeFailures, "server", reasonUnknownPeer); got != 1 {
		t.Errorf("server handshake failures (unknown_peer) = %v, want 1", got)
	}
	if got := counterValue(t, srv.m.connections, "server", "accepted"); got != 0 {
		t.Errorf("server accepted %v connections from a stranger", got)
	}

	// The Client of a stranger never gets a request through.
	stranger := startClient(t, strangerID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := stranger.Request(ctx, frame.Frame{Type: typeEcho}); err == nil {
		t.Fatal("a stranger's request succeeded")
	}

	// A known peer is served all along.
	known := startClient(t, knownID, srv, testConfig(nil))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := known.Request(ctx2, frame.Frame{Type: typeEcho, Payload: []byte("hi")}); err != nil {
		t.Fatalf("known peer: %v", err)
	}

	// And a server that presents a key other than the pinned one is refused by the client.
	imposter := startServer(t, newIdentity(t), ServerConfig{Config: testConfig(nil), Peers: []PeerID{knownID.ID()}})
	imposter.id = srvID // the client will pin the real server's key
	rc2, err := dialRaw(t, knownID, imposter)
	if err == nil {
		rc2.CloseWithError(0, "")
		t.Fatal("client accepted a server with the wrong key")
	}
	if te, ok := errors.AsType[*quic.TransportError](err); !ok || te.Remote {
		t.Fatalf("dial to an imposter: %v, want a local TLS error", err)
	}
}

// wantRefused dials srv as id and fails the test unless the server refuses it in the
// handshake: either the dial fails or the connection is closed before it can carry a stream,
// with a TLS alert from the server as the reason.
func wantRefused(t *testing.T, id *Identity, srv *testServer) {
	t.Helper()
	rc, err := dialRaw(t, id, srv)
	if err == nil {
		<-rc.Context().Done()
		err = context.Cause(rc.Context())
	}
	te, ok := errors.AsType[*quic.TransportError](err)
	if !ok || !te.ErrorCode.IsCryptoError() || !te.Remote {
		t.Fatalf("connection of %s ended with %v, want a TLS alert from the server", id.ID(), err)
	}
}

func TestSetPeers(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{Config: testConfig(nil), Requests: map[frame.Type]RequestHandler{typeEcho: echo}})
	wantRefused(t, cliID, srv)
	srv.SetPeers([]PeerID{cliID.ID()})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho}); err != nil {
		t.Fatalf("after SetPeers: %v", err)
	}
}

func TestFrameOverLimit(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	cfg := testConfig(nil)
	cfg.MaxRequestSize = 1024
	srv := startServer(t, srvID, ServerConfig{
		Config:   cfg,
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})
	// This client believes the limit is larger, so the server is the one to refuse.
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	big := noise(5000, 1)
	_, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Payload: big})
	wantCode(t, err, ErrCodeFrameTooLarge, true)
	if got := counterValue(t, srv.m.streamErrors, "FRAME_TOO_LARGE", "local"); got != 1 {
		t.Errorf("server stream errors (FRAME_TOO_LARGE) = %v, want 1", got)
	}

	// A client that knows the limit refuses before sending.
	small := cfg
	small.Registerer = nil
	careful := startClient(t, cliID, srv, small)
	_, err = careful.Request(ctx, frame.Frame{Type: typeEcho, Payload: big})
	wantCode(t, err, ErrCodeFrameTooLarge, false)

	// The connection is fine.
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Payload: big[:1000]}); err != nil {
		t.Fatalf("request under the limit: %v", err)
	}
}

func TestUnknownFrameType(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	got := make(chan frame.Frame, 16)
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
		Messages: map[frame.Type]MessageHandler{typeMessage: func(_ context.Context, _ PeerID, f frame.Frame) { got <- f }},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := cli.Request(ctx, frame.Frame{Type: 0x50, Payload: []byte("what is this")})
	wantCode(t, err, ErrCodeUnknownFrameType, true)

	// On the publish stream: the bad message ends the stream, and the next Publish says why.
	if err := cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	<-got
	if err := cli.Publish(ctx, frame.Frame{Type: 0x51}); err != nil {
		t.Fatalf("the unknown message itself cannot fail: %v", err)
	}
	eventually(t, "the server to refuse the unknown message", func() bool {
		return counterValue(t, srv.m.streamErrors, "UNKNOWN_FRAME_TYPE", "local") == 2
	})
	var perr error
	eventually(t, "the refusal to reach the client", func() bool {
		perr = cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: []byte("2")})
		return perr != nil
	})
	wantCode(t, perr, ErrCodeUnknownFrameType, true)
	// The next Publish opens a fresh stream.
	if err := cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: []byte("3")}); err != nil {
		t.Fatal(err)
	}
	for f := range got {
		if string(f.Payload) == "3" {
			break
		}
	}
	// Reserved types are refused locally.
	_, err = cli.Request(ctx, frame.Frame{Type: TypeSubscribe})
	wantCode(t, err, ErrCodeProtocol, false)
}

func TestCorruptCompressedPayload(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})
	rc, err := dialRaw(t, cliID, srv)
	if err != nil {
		t.Fatal(err)
	}
	good, err := frame.NewEncoder(frame.Compression{SnappyMin: 1, ZstdMin: 1}).Append(nil, frame.Frame{Type: typeEcho, Payload: payload(5000, 1)})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	for i := frame.MaxHeaderSize + 20; i < len(bad); i += 7 {
		bad[i] ^= 0xa5
	}
	_, err = rc.rawExchange(t, bad)
	wantCode(t, err, ErrCodeCorruptPayload, true)

	// Flags the protocol does not define.
	bad = bytes.Clone(good)
	bad[6] = 0x80
	_, err = rc.rawExchange(t, bad)
	wantCode(t, err, ErrCodeBadFlags, true)

	// A stream that ends in the middle of a frame.
	_, err = rc.rawExchange(t, good[:len(good)/2])
	wantCode(t, err, ErrCodeTruncatedFrame, true)

	// The same connection still works.
	out, err := rc.rawExchange(t, good)
	if err != nil {
		t.Fatalf("good frame after bad ones: %v", err)
	}
	f, err := frame.NewReader(bytes.NewReader(out), frame.Limits{Types: frame.Types(typeEchoed)}).ReadFrame()
	if err != nil || !bytes.Equal(f.Payload, payload(5000, 1)) {
		t.Fatalf("echo after bad frames: %v", err)
	}
	if got := counterValue(t, srv.m.streamErrors, "CORRUPT_PAYLOAD", "local"); got != 1 {
		t.Errorf("server stream errors (CORRUPT_PAYLOAD) = %v, want 1", got)
	}
}

func TestHandlerError(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{
			typeEcho: func(context.Context, PeerID, frame.Frame) (frame.Frame, error) {
				return frame.Frame{}, errors.New("bid value 0 below the floor")
			},
			typeBlock: func(context.Context, PeerID, frame.Frame) (frame.Frame, error) {
				return frame.Frame{Type: TypeError}, nil // a reserved type: the server must not send it
			},
		},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cli.Request(ctx, frame.Frame{Type: typeEcho})
	wantCode(t, err, ErrCodeRequestRejected, true)
	if te, _ := errors.AsType[*Error](err); te.Message != "bid value 0 below the floor" {
		t.Fatalf("message %q, want the handler's", te.Message)
	}
	_, err = cli.Request(ctx, frame.Frame{Type: typeBlock})
	wantCode(t, err, ErrCodeInternal, true)
}

func TestPeerDisappearsMidStream(t *testing.T) {
	srvID, goneID, stayID := newIdentity(t), newIdentity(t), newIdentity(t)
	cfg := testConfig(nil)
	cfg.IdleTimeout = 600 * time.Millisecond
	cfg.KeepAlive = 200 * time.Millisecond
	handlerCtxDone := make(chan error, 1)
	handlerEntered := make(chan struct{}, 1)
	srv := startServer(t, srvID, ServerConfig{
		Config: cfg,
		Peers:  []PeerID{goneID.ID(), stayID.ID()},
		Requests: map[frame.Type]RequestHandler{
			typeEcho: echo,
			typeBlock: func(ctx context.Context, _ PeerID, _ frame.Frame) (frame.Frame, error) {
				handlerEntered <- struct{}{}
				<-ctx.Done()
				handlerCtxDone <- context.Cause(ctx)
				return frame.Frame{}, ctx.Err()
			},
		},
		Topics: []string{"bids"},
	})
	stay := startClient(t, stayID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := stay.Request(ctx, frame.Frame{Type: typeEcho}); err != nil {
		t.Fatal(err)
	}

	// 1. A peer vanishes (its socket closes, no CONNECTION_CLOSE) halfway through a frame.
	rc, err := dialRaw(t, goneID, srv)
	if err != nil {
		t.Fatal(err)
	}
	str, err := rc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := frame.NewEncoder(frame.Compression{}).Append(nil, frame.Frame{Type: typeEcho, Payload: payload(100_000, 3)})
	if _, err := str.Write(full[:len(full)/2]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server to accept the vanishing peer", func() bool {
		return testutil.ToFloat64(srv.m.openConnections.WithLabelValues("server")) == 2
	})
	rc.udp.Close() // gone without a word
	eventually(t, "the idle timeout to close the vanished peer's connection", func() bool {
		return testutil.ToFloat64(srv.m.openConnections.WithLabelValues("server")) == 1
	})
	if _, err := stay.Request(ctx, frame.Frame{Type: typeEcho, Payload: []byte("still here")}); err != nil {
		t.Fatalf("other peer after one vanished: %v", err)
	}

	// 2. A peer closes its connection while its request is being handled: the handler's
	// context ends with the peer's code.
	rc2, err := dialRaw(t, goneID, srv)
	if err != nil {
		t.Fatal(err)
	}
	str2, err := rc2.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	blockReq, _ := frame.NewEncoder(frame.Compression{}).Append(nil, frame.Frame{Type: typeBlock})
	if _, err := str2.Write(blockReq); err != nil {
		t.Fatal(err)
	}
	// The open-streams gauge cannot say this: the other peer's last request counts there
	// until its FIN arrives.
	select {
	case <-handlerEntered:
	case <-ctx.Done():
		t.Fatal("the request never reached the handler")
	}
	rc2.CloseWithError(quic.ApplicationErrorCode(ErrCodeCanceled), "validator restarting")
	select {
	case cause := <-handlerCtxDone:
		wantCode(t, cause, ErrCodeCanceled, true)
	case <-ctx.Done():
		t.Fatal("the handler's context did not end when its peer closed the connection")
	}

	// 3. A subscriber vanishes: its subscription is cleaned up, publishing goes on.
	rc3, err := dialRaw(t, goneID, srv)
	if err != nil {
		t.Fatal(err)
	}
	str3, err := rc3.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := frame.NewEncoder(frame.Compression{}).Append(nil, frame.Frame{Type: TypeSubscribe, Payload: []byte("bids")})
	if _, err := str3.Write(sub); err != nil {
		t.Fatal(err)
	}
	if _, err := frame.NewReader(str3, frame.Limits{Types: frame.Types(TypeSubscribe)}).ReadFrame(); err != nil {
		t.Fatalf("subscription not confirmed: %v", err)
	}
	rc3.udp.Close()
	eventually(t, "the vanished subscriber to be released", func() bool {
		_, err := srv.Publish("bids", frame.Frame{Type: typeMessage, Payload: []byte("x")})
		return err == nil && testutil.ToFloat64(srv.m.openStreams.WithLabelValues("subscribe")) == 0
	})
	if _, err := stay.Request(ctx, frame.Frame{Type: typeEcho}); err != nil {
		t.Fatalf("other peer at the end: %v", err)
	}
}

func TestServerGoesAwayMidRequest(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	entered := make(chan struct{})
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeBlock: func(ctx context.Context, _ PeerID, _ frame.Frame) (frame.Frame, error) {
			close(entered)
			<-ctx.Done()
			return frame.Frame{}, ctx.Err()
		}},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Request(ctx, frame.Frame{Type: typeBlock})
		errc <- err
	}()
	<-entered
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-errc, ErrCodeShuttingDown, true)
}

func TestShutdownDrains(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	entered, release := make(chan struct{}), make(chan struct{})
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeBlock: func(_ context.Context, _ PeerID, req frame.Frame) (frame.Frame, error) {
			close(entered)
			<-release
			return frame.Frame{Type: typeEchoed, Payload: []byte("done")}, nil
		}},
		Topics: []string{"bids"},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := cli.Subscribe(ctx, "bids")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		f   frame.Frame
		err error
	}
	reqDone := make(chan result, 1)
	go func() {
		f, err := cli.Request(ctx, frame.Frame{Type: typeBlock})
		reqDone <- result{f, err}
	}()
	<-entered
	shutDone := make(chan error, 1)
	go func() { shutDone <- srv.Shutdown(ctx) }()

	// The subscription ends at once, with the reason.
	_, err = sub.Next()
	wantCode(t, err, ErrCodeShuttingDown, true)
	// The request in flight is not cut off: Shutdown waits for it.
	select {
	case err := <-shutDone:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	r := <-reqDone
	if r.err != nil || string(r.f.Payload) != "done" {
		t.Fatalf("request in flight during shutdown: %q, %v", r.f.Payload, r.err)
	}
	if err := <-shutDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := srv.Listen("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Shutdown: %v, want ErrClosed", err)
	}
}

func TestShutdownTimesOut(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	entered := make(chan struct{})
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeBlock: func(ctx context.Context, _ PeerID, _ frame.Frame) (frame.Frame, error) {
			close(entered)
			<-ctx.Done()
			return frame.Frame{}, ctx.Err()
		}},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Request(context.Background(), frame.Frame{Type: typeBlock})
		errc <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	wantCode(t, <-errc, ErrCodeShuttingDown, true)
}

func TestClientReconnects(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	cfg := ServerConfig{Config: testConfig(nil), Peers: []PeerID{cliID.ID()}, Requests: map[frame.Type]RequestHandler{typeEcho: echo}}
	first := startServer(t, srvID, cfg)
	reg := prometheus.NewRegistry()
	cli := startClient(t, cliID, first, testConfig(reg))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the client to notice the lost connection", func() bool {
		return counterValue(t, cli.m.connections, "client", "lost") == 1
	})

	// A new server with the same key on the same address: the client finds it by itself.
	cfg.Registerer = prometheus.NewRegistry()
	second, err := NewServer(srvID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Listen(first.addr.String()); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- second.Run(ctx) }()
	defer func() {
		second.Close()
		<-runDone
	}()
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Payload: []byte("back")}); err != nil {
		t.Fatalf("request after the server came back: %v", err)
	}
	if got := counterValue(t, cli.m.connections, "client", "dialed"); got != 2 {
		t.Errorf("client dialed %v times, want 2", got)
	}
}

func TestClientStops(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{Config: testConfig(nil), Peers: []PeerID{cliID.ID()}, Requests: map[frame.Type]RequestHandler{typeEcho: echo}})
	cli, err := NewClient(cliID, ClientConfig{Config: testConfig(nil), Addr: srv.addr.String(), Server: srvID.ID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx) }()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := cli.Request(rctx, frame.Frame{Type: typeEcho}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := cli.Request(rctx, frame.Frame{Type: typeEcho}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Request after Run: %v, want ErrClosed", err)
	}
	if err := cli.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
	eventually(t, "the server to see the client leave", func() bool {
		return testutil.ToFloat64(srv.m.openConnections.WithLabelValues("server")) == 0
	})
}

func TestRequestNotConnected(t *testing.T) {
	cli, err := NewClient(newIdentity(t), ClientConfig{Addr: "127.0.0.1:9", Server: newIdentity(t).ID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	// Run is not running: the request waits for a connection until its context ends.
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request: %v, want DeadlineExceeded", err)
	}
}

func TestRegistrySharing(t *testing.T) {
	reg := prometheus.NewRegistry()
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{Config: testConfig(reg), Peers: []PeerID{cliID.ID()}, Requests: map[frame.Type]RequestHandler{typeEcho: echo}})
	cli := startClient(t, cliID, srv, testConfig(reg))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Request(ctx, frame.Frame{Type: typeEcho, Payload: payload(4000, 1)}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{
		"zkv_transport_connections_total", "zkv_transport_open_connections", "zkv_transport_streams_total",
		"zkv_transport_frames_total", "zkv_transport_wire_bytes_total", "zkv_transport_payload_bytes_total",
		"zkv_transport_compression_ratio",
	} {
		if !names[want] {
			t.Errorf("metric %s not registered", want)
		}
	}
	// Both sides count into the same series: two frames out (request, response). The server
	// counts its response after writing it, which may be after the client has read it.
	eventually(t, "frames out to be 2 (shared by client and server)", func() bool {
		return testutil.ToFloat64(srv.m.framesOut) == 2
	})
}

func TestClientClose(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	entered := make(chan struct{})
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeBlock: func(ctx context.Context, _ PeerID, _ frame.Frame) (frame.Frame, error) {
			close(entered)
			<-ctx.Done()
			return frame.Frame{}, ctx.Err()
		}},
	})
	cli, err := NewClient(cliID, ClientConfig{Config: testConfig(nil), Addr: srv.addr.String(), Server: srvID.ID()})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- cli.Run(context.Background()) }()
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Request(context.Background(), frame.Frame{Type: typeBlock})
		errc <- err
	}()
	<-entered
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-errc, ErrCodeNoError, false)
	if err := <-runDone; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := cli.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
}

// A server that stops reading slows the publisher (QUIC flow control) until the publisher's
// context ends; the stream is then reset and the next Publish starts a fresh one.
func TestPublishBackPressure(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	release := make(chan struct{})
	got := make(chan string, 1024)
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Messages: map[frame.Type]MessageHandler{typeMessage: func(_ context.Context, _ PeerID, f frame.Frame) {
			<-release
			got <- string(f.Payload[:8])
		}},
	})
	cli := startClient(t, cliID, srv, testConfig(nil))
	var blocked error
	for i := range 1000 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		p := noise(64<<10, uint64(i))
		copy(p, fmt.Sprintf("msg%05d", i))
		blocked = cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: p})
		cancel()
		if blocked != nil {
			t.Logf("publisher blocked after %d messages of 64 KB", i)
			break
		}
	}
	if !errors.Is(blocked, context.DeadlineExceeded) {
		t.Fatalf("publishing to a server that does not read: %v, want the context's deadline", blocked)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	after := noise(100, 9)
	copy(after, "after!!!")
	if err := cli.Publish(ctx, frame.Frame{Type: typeMessage, Payload: after}); err != nil {
		t.Fatalf("Publish after the blocked one: %v", err)
	}
	for {
		select {
		case s := <-got:
			if s == "after!!!" {
				return
			}
		case <-ctx.Done():
			t.Fatal("the message after the reset never arrived")
		}
	}
}
