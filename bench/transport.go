package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// Frame types of the transport suite's own request and answer (the suite's server answers
// nothing else).
const (
	typeBenchRequest frame.Type = 0x71
	typeBenchAnswer  frame.Type = 0x72
)

// roundTripSizes are the two payloads relays and validators send: a 1 KB message (a bid, an
// attestation with its proof) and a 350 KB execution payload (a block submission).
var roundTripSizes = []struct {
	name string
	n    int
}{{"1KB", 1024}, {"350KB", 350_000}}

// TransportScenarios time one request round trip on 127.0.0.1: zkv's QUIC transport (framed,
// compressed, pinned keys) against HTTP/2 over TLS 1.3 on TCP, the protocol it replaces, with the
// same payload and a small answer. The payload is random, so compression cannot shrink it:
// this measures the protocols, not snappy.
func TransportScenarios() []Scenario {
	var out []Scenario
	for _, size := range roundTripSizes {
		h2 := "transport/h2-tls-roundtrip-" + size.name
		out = append(out,
			Scenario{
				Name:        "transport/quic-roundtrip-" + size.name,
				Description: fmt.Sprintf("one %s request and its answer over zkv's QUIC transport on 127.0.0.1", size.name),
				Unit:        "request", Latency: true, Peer: h2,
				Setup: func(ctx context.Context, _ bool) (Prepared, error) { return quicRoundTrip(ctx, size.n) },
			},
			Scenario{
				Name:        h2,
				Description: fmt.Sprintf("one %s POST and its answer over HTTP/2 on TLS 1.3 (TCP) on 127.0.0.1", size.name),
				Unit:        "request", Latency: true,
				Setup: func(ctx context.Context, _ bool) (Prepared, error) { return h2RoundTrip(ctx, size.n) },
			})
	}
	return out
}

func randomPayload(n int) ([]byte, error) {
	p := make([]byte, n)
	_, err := rand.Read(p)
	return p, err
}

// runner runs Run methods until Close, which cancels them and waits.
type runner struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ctx    context.Context
}

func newRunner(ctx context.Context) *runner {
	r := &runner{}
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

func (r *runner) run(f func(context.Context) error) { r.wg.Go(func() { _ = f(r.ctx) }) }
func (r *runner) close()                            { r.cancel(); r.wg.Wait() }

func quicRoundTrip(ctx context.Context, n int) (Prepared, error) {
	payload, err := randomPayload(n)
	if err != nil {
		return Prepared{}, err
	}
	srvID, err := transport.GenerateIdentity()
	if err != nil {
		return Prepared{}, err
	}
	cliID, err := transport.GenerateIdentity()
	if err != nil {
		return Prepared{}, err
	}
	srv, err := transport.NewServer(srvID, transport.ServerConfig{
		Peers: []transport.PeerID{cliID.ID()},
		Requests: map[frame.Type]transport.RequestHandler{typeBenchRequest: func(_ context.Context, _ transport.PeerID, req frame.Frame) (frame.Frame, error) {
			if len(req.Payload) != n {
				return frame.Frame{}, fmt.Errorf("got %d bytes, want %d", len(req.Payload), n)
			}
			return frame.Frame{Type: typeBenchAnswer, Fork: req.Fork, Payload: []byte("ok")}, nil
		}},
	})
	if err != nil {
		return Prepared{}, err
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return Prepared{}, err
	}
	r := newRunner(ctx)
	r.run(srv.Run)
	cli, err := transport.NewClient(cliID, transport.ClientConfig{Addr: addr.String(), Server: srvID.ID()})
	if err != nil {
		r.close()
		return Prepared{}, err
	}
	r.run(cli.Run)
	req := frame.Frame{Type: typeBenchRequest, Payload: payload}
	op := func() error {
		ans, err := cli.Request(ctx, req)
		if err != nil {
			return err
		}
		if ans.Type != typeBenchAnswer {
			return fmt.Errorf("answer of type %d", ans.Type)
		}
		return nil
	}
	// The client dials in the background: wait (generously, the machine may be loaded) for the
	// first answer, then warm the streams and flow-control windows.
	if err := retryFor(ctx, 20*time.Second, op); err != nil {
		r.close()
		return Prepared{}, fmt.Errorf("first QUIC request: %w", err)
	}
	return Prepared{Op: op, Items: 1, Close: r.close}, nil
}

func h2RoundTrip(ctx context.Context, n int) (Prepared, error) {
	payload, err := randomPayload(n)
	if err != nil {
		return Prepared{}, err
	}
	id, err := transport.GenerateIdentity()
	if err != nil {
		return Prepared{}, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil || len(body) != n {
			http.Error(w, fmt.Sprintf("got %d bytes (%v), want %d", len(body), err, n), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	srv, err := transport.NewHTTPServer(h, &tls.Config{Certificates: []tls.Certificate{id.Certificate()}}, transport.HTTPConfig{})
	if err != nil {
		return Prepared{}, err
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return Prepared{}, err
	}
	r := newRunner(ctx)
	r.run(srv.Run)
	pool := x509.NewCertPool()
	pool.AddCert(id.Certificate().Leaf)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "zkv", MinVersion: tls.VersionTLS13},
		ForceAttemptHTTP2: true,
	}
	client := &http.Client{Transport: tr}
	url := "https://" + addr.String() + "/bench"
	op := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			return fmt.Errorf("%s %s, want HTTP/2 200", resp.Proto, resp.Status)
		}
		return nil
	}
	if err := retryFor(ctx, 20*time.Second, op); err != nil {
		tr.CloseIdleConnections()
		r.close()
		return Prepared{}, fmt.Errorf("first HTTP/2 request: %w", err)
	}
	return Prepared{Op: op, Items: 1, Close: func() { tr.CloseIdleConnections(); r.close() }}, nil
}

// retryFor calls op until it succeeds, the timeout passes or ctx ends.
func retryFor(ctx context.Context, timeout time.Duration, op func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := op()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
