package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

// A peer removed from the allow-list is disconnected at once and cannot come back, not even
// by resuming a TLS session it was given while it was allowed.
func TestRemovedPeerIsDisconnectedAndStaysOut(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	srv := startServer(t, srvID, ServerConfig{
		Config:   testConfig(nil),
		Peers:    []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	conf := clientTLS(cliID, srvID.ID(), func(string) {})
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	dial := func() (*quic.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tr.Dial(ctx, srv.addr, conf, &quic.Config{MaxIdleTimeout: 5 * time.Second})
	}
	conn, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := frame.NewEncoder(frame.Compression{}).Append(nil, frame.Frame{Type: typeEcho, Payload: []byte("hi")})
	if _, err := (&rawConn{Conn: conn}).rawExchange(t, req); err != nil {
		t.Fatalf("allowed peer: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // time for a session ticket, were one sent

	srv.SetPeers(nil)
	wantClosedBy(t, conn, ErrCodeNotAllowed)
	// The client may finish its side of the handshake before the server has checked its
	// certificate; the server's refusal then ends the connection with a TLS alert.
	again, err := dial()
	if err == nil {
		resumed := again.ConnectionState().TLS.DidResume
		<-again.Context().Done()
		err = context.Cause(again.Context())
		if resumed {
			t.Errorf("the removed peer resumed a TLS session")
		}
	}
	if te, ok := errors.AsType[*quic.TransportError](err); !ok || !te.ErrorCode.IsCryptoError() || !te.Remote {
		t.Fatalf("the removed peer's new connection ended with %v, want a TLS alert from the server", err)
	}
}

// A request's payload is the handler's to keep: bytes the peer sends after the request must
// not overwrite it.
func TestRequestPayloadStaysTheHandlers(t *testing.T) {
	srvID, cliID := newIdentity(t), newIdentity(t)
	kept := make(chan []byte, 1)
	srv := startServer(t, srvID, ServerConfig{
		Config: testConfig(nil),
		Peers:  []PeerID{cliID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: func(_ context.Context, _ PeerID, req frame.Frame) (frame.Frame, error) {
			kept <- req.Payload
			return frame.Frame{Type: typeEchoed}, nil
		}},
	})
	rc, err := dialRaw(t, cliID, srv)
	if err != nil {
		t.Fatal(err)
	}
	str := rc.openStream(t)
	enc := frame.NewEncoder(frame.Compression{Off: true})
	first, _ := enc.Append(nil, frame.Frame{Type: typeEcho, Payload: bytes.Repeat([]byte("A"), 100)})
	second, _ := enc.Append(nil, frame.Frame{Type: typeEcho, Payload: bytes.Repeat([]byte("B"), 100)})
	if _, err := str.Write(first); err != nil {
		t.Fatal(err)
	}
	resp, err := frame.NewReader(str, frame.Limits{Types: frame.TypeRange(0, 0xff), MaxSize: 1 << 10}).ReadFrame()
	if err != nil || resp.Type != typeEchoed {
		t.Fatalf("response %v, %v", resp.Type, err)
	}
	_, _ = str.Write(second)
	_ = str.Close()
	_, _ = io.Copy(io.Discard, str) // the server refuses the extra frame: wait for it to be read
	time.Sleep(50 * time.Millisecond)
	if got := <-kept; !bytes.Equal(got, bytes.Repeat([]byte("A"), 100)) {
		t.Fatalf("the handler's payload changed to %q", got)
	}
}

// Codes a peer invents share one metric label.
func TestUnknownCodesShareALabel(t *testing.T) {
	for _, c := range []ErrCode{maxErrCode + 1, 0xdead, 1 << 61} {
		if got := c.label(); got != "OTHER" {
			t.Errorf("label of %#x = %q, want OTHER", uint64(c), got)
		}
	}
	for c := ErrCodeNoError; c <= maxErrCode; c++ {
		if got := c.label(); got != c.String() || got == "OTHER" {
			t.Errorf("label of %v = %q", c, got)
		}
	}
}

// One peer cannot hold more than MaxConnsPerPeer connections; the next is closed with
// TOO_MANY_CONNECTIONS and another peer is still served.
func TestConnectionsPerPeerBounded(t *testing.T) {
	srvID, cliID, otherID := newIdentity(t), newIdentity(t), newIdentity(t)
	cfg := testConfig(nil)
	cfg.MaxConnsPerPeer = 2
	srv := startServer(t, srvID, ServerConfig{
		Config:   cfg,
		Peers:    []PeerID{cliID.ID(), otherID.ID()},
		Requests: map[frame.Type]RequestHandler{typeEcho: echo},
	})
	req, _ := frame.NewEncoder(frame.Compression{}).Append(nil, frame.Frame{Type: typeEcho, Payload: []byte("hi")})
	for i := 0; i < 2; i++ {
		rc, err := dialRaw(t, cliID, srv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rc.rawExchange(t, req); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	third, err := dialRaw(t, cliID, srv)
	if err != nil {
		t.Fatal(err)
	}
	wantClosedBy(t, third.Conn, ErrCodeTooManyConns)
	other, err := dialRaw(t, otherID, srv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.rawExchange(t, req); err != nil {
		t.Fatalf("another peer: %v", err)
	}
}

// wantClosedBy waits for the server to close conn and checks the code it gave.
func wantClosedBy(t *testing.T, conn *quic.Conn, code ErrCode) {
	t.Helper()
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("connection still open, want it closed with %v", code)
	}
	var ae *quic.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &ae) || ErrCode(ae.ErrorCode) != code {
		t.Fatalf("connection closed with %v, want %v", err, code)
	}
}
