package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

const (
	typeEcho    frame.Type = 0x01
	typeEchoed  frame.Type = 0x02
	typeBlock   frame.Type = 0x03
	typeMessage frame.Type = 0x10
)

func newIdentity(t testing.TB) *Identity {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testConfig has timeouts short enough that a lost peer is noticed within a test.
func testConfig(reg prometheus.Registerer) Config {
	return Config{
		HandshakeTimeout: 2 * time.Second,
		IdleTimeout:      5 * time.Second,
		KeepAlive:        time.Second,
		MinBackoff:       10 * time.Millisecond,
		MaxBackoff:       200 * time.Millisecond,
		DrainTimeout:     2 * time.Second,
		Registerer:       reg,
	}
}

// echo answers typeEcho with typeEchoed and the same payload.
func echo(_ context.Context, _ PeerID, req frame.Frame) (frame.Frame, error) {
	return frame.Frame{Type: typeEchoed, Fork: req.Fork, Payload: req.Payload}, nil
}

type testServer struct {
	*Server
	addr net.Addr
	id   *Identity
	reg  *prometheus.Registry
	errc chan error
}

// startServer listens on 127.0.0.1:0 and runs the server until the test ends.
func startServer(t testing.TB, id *Identity, cfg ServerConfig) *testServer {
	t.Helper()
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	s, err := NewServer(id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, addr: addr, id: id, errc: make(chan error, 1)}
	if r, ok := cfg.Registerer.(*prometheus.Registry); ok {
		ts.reg = r
	}
	go func() { ts.errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.errc:
			if err != nil {
				t.Errorf("server Run: %v", err)
			}
			ts.errc <- err
		case <-time.After(10 * time.Second):
			t.Error("server Run did not return")
		}
	})
	return ts
}

// startClient runs a client of srv until the test ends.
func startClient(t testing.TB, id *Identity, srv *testServer, cfg Config) *Client {
	t.Helper()
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	c, err := NewClient(id, ClientConfig{Config: cfg, Addr: srv.addr.String(), Server: srv.id.ID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("client Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("client Run did not return")
		}
	})
	return c
}

// rawConn is a QUIC connection made by hand, for peers that misbehave in ways Client never
// would.
type rawConn struct {
	*quic.Conn
	tr  *quic.Transport
	udp *net.UDPConn
}

func dialRaw(t testing.TB, id *Identity, srv *testServer) (*rawConn, error) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() {
		tr.Close()
		udp.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := tr.Dial(ctx, srv.addr, clientTLS(id, srv.id.ID(), func(string) {}), &quic.Config{MaxIdleTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: conn, tr: tr, udp: udp}, nil
}

// openStream opens a bidirectional stream that gives up after five seconds.
func (rc *rawConn) openStream(t testing.TB) *quic.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := rc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = str.SetDeadline(time.Now().Add(5 * time.Second))
	return str
}

// rawExchange writes b on a new stream, closes the send side and reads until the stream ends.
func (rc *rawConn) rawExchange(t testing.TB, b []byte) ([]byte, error) {
	t.Helper()
	str := rc.openStream(t)
	if _, err := str.Write(b); err != nil {
		return nil, err
	}
	_ = str.Close()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := str.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

// wantCode fails the test unless err carries code, sent by the peer when remote is set.
func wantCode(t testing.TB, err error, code ErrCode, remote bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	te, ok := errors.AsType[*Error](err)
	if !ok {
		te, ok = wireError(err).(*Error)
	}
	if !ok {
		t.Fatalf("error %q (%T) carries no wire code, want %s", err, err, code)
	}
	if te.Code != code || te.Remote != remote {
		t.Fatalf("error %q: code %s remote %v, want %s remote %v", err, te.Code, te.Remote, code, remote)
	}
}

// eventually polls cond until it holds or the deadline passes. It is for effects that
// travel the network after the call that caused them has returned.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counterValue(t testing.TB, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	return testutil.ToFloat64(c.WithLabelValues(labels...))
}
