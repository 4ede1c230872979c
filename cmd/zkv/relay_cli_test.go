package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/transport"
)

func TestRelayFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"relay", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"/relay/v1/builder/blocks", "--beacon-node", "equivocation", "--quic-peers", "relay/top_bids", "Not yet"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("--help does not mention %q:\n%s", want, errOut.String())
		}
	}
	key := filepath.Join(t.TempDir(), "relay.key")
	for _, args := range [][]string{
		{"relay"},
		{"relay", "--secret-key-file", key},
		{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1"},
		{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1", "--db", "x", "--network", "gnosis"},
		{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1", "--db", "x", "--quic", ":1"},
		{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1", "--db", "x", "--quic-peers", strings.Repeat("ab", 32)},
		{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1", "--db", "x", "--quic", ":1", "--quic-peers", "0x12"},
		{"relay", "--no-such-flag"},
		{"relay", "extra"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 (usage) with a message", args, code)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"relay", "--secret-key-file", key, "--new-key"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "public key 0x") {
		t.Fatalf("--new-key: exit %d %q", code, out.String())
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"relay", "--secret-key-file", key, "--new-key"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "refusing to overwrite") {
		t.Fatalf("--new-key over an existing key: exit %d %q", code, errOut.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	_ = os.WriteFile(bad, []byte("not hex"), 0o600)
	errOut.Reset()
	if code := run(context.Background(), []string{"relay", "--secret-key-file", bad, "--beacon-node", "http://127.0.0.1:1", "--db", t.TempDir()}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "64 hex digits") {
		t.Fatalf("bad key file: exit %d %q", code, errOut.String())
	}
}

// `zkv relay` follows a devnet beacon node, serves the builder API on the address it prints,
// refuses a beacon node of another network, and stops cleanly when its context ends.
func TestRelayRuns(t *testing.T) {
	node, err := beacon.New(context.Background(), beacon.Config{Validators: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(node.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	key := filepath.Join(t.TempDir(), "relay.key")
	if code := run(ctx, []string{"relay", "--secret-key-file", key, "--new-key"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("--new-key failed")
	}
	dbDir := t.TempDir()
	var errOut bytes.Buffer
	if code := run(ctx, []string{"relay", "--secret-key-file", key, "--beacon-node", srv.URL, "--db", dbDir, "--listen", "127.0.0.1:0", "--network", "mainnet"}, &bytes.Buffer{}, &errOut); code != 1 || !strings.Contains(errOut.String(), "genesis fork version") {
		t.Fatalf("devnet beacon node for a mainnet relay: exit %d %q", code, errOut.String())
	}
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"relay", "--secret-key-file", key, "--beacon-node", srv.URL, "--db", dbDir, "--listen", "127.0.0.1:0", "--network", "devnet"}, &out, &logs)
	}()
	urlRE := regexp.MustCompile(`http://0x[0-9a-f]{96}@(127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	var addr string
	for addr == "" {
		select {
		case code := <-done:
			t.Fatalf("exited %d before serving: %s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q", out.String())
		}
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/eth/v1/builder/status")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop after its context ended")
	}
}

// `zkv relay --quic` prints its transport key, and a peer of --quic-peers that pins that key
// subscribes to the top-bid stream; the key file is kept for the next start.
func TestRelayQUIC(t *testing.T) {
	node, err := beacon.New(context.Background(), beacon.Config{Validators: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(node.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(srv.Close)
	t.Cleanup(cancel)
	key := filepath.Join(t.TempDir(), "relay.key")
	if code := run(ctx, []string{"relay", "--secret-key-file", key, "--new-key"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("--new-key failed")
	}
	peer, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	dbDir := t.TempDir()
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"relay", "--secret-key-file", key, "--beacon-node", srv.URL, "--db", dbDir, "--listen", "127.0.0.1:0",
			"--quic", "127.0.0.1:0", "--quic-peers", peer.ID().String()}, &out, &logs)
	}()
	quicRE := regexp.MustCompile(`relay quic: (127\.0\.0\.1:\d+) key ([0-9a-f]{64})`)
	deadline := time.Now().Add(30 * time.Second)
	var m []string
	for m == nil {
		select {
		case code := <-done:
			t.Fatalf("exited %d before serving: %s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no QUIC address printed: %q", out.String())
		}
		m = quicRE.FindStringSubmatch(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dbDir, "quic.key")); err != nil {
		t.Fatalf("QUIC key not kept in the database directory: %v", err)
	}
	relayID, err := transport.ParsePeerID(m[2])
	if err != nil {
		t.Fatal(err)
	}
	c, err := transport.NewClient(peer, transport.ClientConfig{Addr: m[1], Server: relayID,
		Config: transport.Config{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	cdone := make(chan error, 1)
	go func() { cdone <- c.Run(cctx) }()
	sctx, scancel := context.WithTimeout(cctx, 10*time.Second)
	sub, err := c.Subscribe(sctx, mev.TopBidTopic)
	if err != nil {
		t.Fatalf("subscribe to the top-bid stream: %v", err)
	}
	_ = sub.Close()
	scancel()
	ccancel()
	if err := <-cdone; err != nil {
		t.Errorf("client Run: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop after its context ended")
	}
}
