package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pinnedTLS is a client TLS config that trusts exactly id's self-signed certificate.
func pinnedTLS(id *Identity) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(id.Certificate().Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "zkv", MinVersion: tls.VersionTLS13}
}

// protoHandler answers with the protocol the request came in on and echoes the body.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s", r.Proto, body)
})

func startHTTPServer(t *testing.T, id *Identity) (*HTTPServer, net.Addr) {
	t.Helper()
	srv, err := NewHTTPServer(protoHandler, &tls.Config{Certificates: []tls.Certificate{id.Certificate()}}, HTTPConfig{})
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
			t.Errorf("http server Run: %v", err)
		}
	})
	return srv, addr
}

func get(t *testing.T, c *http.Client, url, body string) (string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
	return string(b), resp.Header
}

func TestHTTPServerServesAllProtocols(t *testing.T) {
	id := newIdentity(t)
	_, addr := startHTTPServer(t, id)
	url := "https://" + addr.String() + "/eth/v1/builder/status"
	port := addr.(*net.TCPAddr).Port

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(id), ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	body, hdr := get(t, h2, url, "over tcp")
	if body != "HTTP/2.0 over tcp" {
		t.Fatalf("TCP client got %q, want HTTP/2.0", body)
	}
	if alt, want := hdr.Get("Alt-Svc"), fmt.Sprintf(`h3=":%d"`, port); !strings.HasPrefix(alt, want) {
		t.Fatalf("Alt-Svc %q, want it to start with %s", alt, want)
	}

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: pinnedTLS(id), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	defer h1.CloseIdleConnections()
	if body, _ := get(t, h1, url, "old"); body != "HTTP/1.1 old" {
		t.Fatalf("HTTP/1.1 client got %q", body)
	}

	hc, err := NewHTTPClient(pinnedTLS(id), HTTPClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if body, _ := get(t, hc.Client(), url, "over quic"); body != "HTTP/3.0 over quic" {
		t.Fatalf("HTTP/3 client got %q", body)
	}
}

func TestHTTPClientFallsBack(t *testing.T) {
	id := newIdentity(t)
	// A TCP-only server: nothing answers on UDP.
	ts := httptest.NewUnstartedServer(protoHandler)
	ts.EnableHTTP2 = true
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{id.Certificate()}}
	ts.StartTLS()
	defer ts.Close()

	hc, err := NewHTTPClient(pinnedTLS(id), HTTPClientConfig{QUICTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if body, _ := get(t, hc.Client(), ts.URL, "first"); body != "HTTP/2.0 first" {
		t.Fatalf("fallback got %q", body)
	}
	host := strings.TrimPrefix(ts.URL, "https://")
	hc.mu.Lock()
	_, marked := hc.broken[host]
	hc.mu.Unlock()
	if !marked {
		t.Fatal("host not remembered as lacking HTTP/3")
	}
	if body, _ := get(t, hc.Client(), ts.URL, "second"); body != "HTTP/2.0 second" {
		t.Fatalf("second request got %q", body)
	}

	// A body that cannot be replayed is not sent twice; the error says why, and the retry
	// goes over TCP.
	hc2, err := NewHTTPClient(pinnedTLS(id), HTTPClientConfig{QUICTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer hc2.Close()
	req, err := http.NewRequest(http.MethodPost, ts.URL, io.NopCloser(bytes.NewReader([]byte("once"))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc2.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "cannot be replayed") {
		t.Fatalf("unreplayable body: %v", err)
	}
	if body, _ := get(t, hc2.Client(), ts.URL, "retry"); body != "HTTP/2.0 retry" {
		t.Fatalf("retry got %q", body)
	}
}

func TestHTTPServerShutdown(t *testing.T) {
	id := newIdentity(t)
	entered, release := make(chan struct{}), make(chan struct{})
	srv, err := NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	}), &tls.Config{Certificates: []tls.Certificate{id.Certificate()}}, HTTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(context.Background()) }()

	hc, err := NewHTTPClient(pinnedTLS(id), HTTPClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	got := make(chan string, 1)
	go func() {
		resp, err := hc.Client().Get("https://" + addr.String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	close(release)
	if b := <-got; b != "finished" {
		t.Fatalf("request in flight during shutdown: %q", b)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := srv.Listen("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Shutdown: %v", err)
	}
}

func TestNewHTTPServerChecks(t *testing.T) {
	if _, err := NewHTTPServer(nil, &tls.Config{}, HTTPConfig{}); err == nil {
		t.Error("no handler accepted")
	}
	if _, err := NewHTTPServer(protoHandler, &tls.Config{}, HTTPConfig{}); err == nil {
		t.Error("TLS config without a certificate accepted")
	}
	if _, err := NewHTTPServer(protoHandler, &tls.Config{Certificates: []tls.Certificate{newIdentity(t).Certificate()}}, HTTPConfig{IdleTimeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
}
