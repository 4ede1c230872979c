package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
)

// The builder API over HTTP/3: the relay's Handler behind transport.HTTPServer; transport's
// HTTPClient (pinned to the relay's certificate) fetches getHeader over HTTP/3 and gets the bid
// the builder submitted over plain HTTP, signed by the relay; the TLS-on-TCP side of the same
// port advertises HTTP/3 with Alt-Svc.
func TestHTTP3GetHeader(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	s := h.bidFor(1, 3_000_000_000, 1)
	_, pk := h.proposer(1)

	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := h.relay.HTTP3Server(&tls.Config{Certificates: []tls.Certificate{id.Certificate()}}, transport.HTTPConfig{DrainTimeout: 2 * time.Second})
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("HTTP/3 server Run: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(id.Certificate().Leaf)
	pinned := &tls.Config{RootCAs: pool, ServerName: "zkv", MinVersion: tls.VersionTLS13}
	url := fmt.Sprintf("https://%s/eth/v1/builder/header/1/%s/%s", addr, s.Payload.ParentHash, pk)

	hc, err := transport.NewHTTPClient(pinned, transport.HTTPClientConfig{QUICTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	resp, body := httpGet(t, hc.Client(), url)
	if resp.Proto != "HTTP/3.0" || resp.StatusCode != http.StatusOK {
		t.Fatalf("getHeader over HTTP/3: %s %s: %s", resp.Proto, resp.Status, body)
	}
	var bid builderspec.VersionedSignedBuilderBid
	if err := json.Unmarshal(body, &bid); err != nil {
		t.Fatalf("decode bid: %v", err)
	}
	if bid.Electra == nil || bid.Electra.Message.Header.BlockHash != s.Payload.BlockHash || resp.Header.Get(pbs.VersionHeader) != "electra" {
		t.Fatalf("the HTTP/3 bid is not the builder's: %s", body)
	}
	if err := pbs.CheckBid(&bid, pbs.BuilderDomain(beacon.GenesisForkVersion), pbs.BidChecks{Version: spec.DataVersionElectra,
		ParentHash: s.Payload.ParentHash, RelayPubkey: h.relayPK}); err != nil {
		t.Fatalf("the HTTP/3 bid fails the proposer's checks: %v", err)
	}

	tcp := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned, ForceAttemptHTTP2: true}}
	defer tcp.CloseIdleConnections()
	resp, _ = httpGet(t, tcp, url)
	if want := fmt.Sprintf(`h3=":%d"`, addr.(*net.TCPAddr).Port); resp.Proto != "HTTP/2.0" || !strings.HasPrefix(resp.Header.Get("Alt-Svc"), want) {
		t.Fatalf("TCP side: %s, Alt-Svc %q, want %s", resp.Proto, resp.Header.Get("Alt-Svc"), want)
	}
}

func httpGet(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
