package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/pool"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
)

func TestPoolFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"pool", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--peers", "--beacon-node", "--key-cache", "pool/evidence", "/pool/v1/evidence", "zkv prover setup", "devnets only"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("--help does not mention %q:\n%s", want, errOut.String())
		}
	}
	peer := strings.Repeat("ab", 32)
	for _, args := range [][]string{
		{"pool"},
		{"pool", "--db", "x"},
		{"pool", "--db", "x", "--beacon-node", "http://127.0.0.1:1"},
		{"pool", "--db", "x", "--beacon-node", "http://127.0.0.1:1", "--peers", "0x12"},
		{"pool", "--db", "x", "--beacon-node", "http://127.0.0.1:1", "--peers", peer, "--registry-depth", "5"},
		{"pool", "--no-such-flag"},
		{"pool", "--db", "x", "extra"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 (usage) with a message", args, code)
		}
	}
	out.Reset()
	key := filepath.Join(t.TempDir(), "pool.key")
	if code := run(context.Background(), []string{"pool", "--quic-key", key, "--new-key"}, &out, &errOut); code != 0 || !regexp.MustCompile(`id [0-9a-f]{64}`).MatchString(out.String()) {
		t.Fatalf("--new-key: exit %d %q %q", code, out.String(), errOut.String())
	}
}

// TestPoolRuns starts zkv pool against the devnet's beacon node, registers a devnet validator
// over QUIC, reads the HTTP API, and stops it cleanly.
func TestPoolRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cache := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"prover", "setup", "--depth", "4", "--cache-dir", cache}, &out, &errOut); code != 0 {
		t.Fatalf("prover setup: %s", errOut.String())
	}
	node, err := beacon.New(ctx, beacon.Config{Validators: 4})
	if err != nil {
		t.Fatal(err)
	}
	bn := httptest.NewServer(node.Handler())
	t.Cleanup(bn.Close)
	validator, _ := transport.GenerateIdentity()

	var stdout, logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"pool", "--db", t.TempDir(), "--beacon-node", bn.URL, "--peers", validator.ID().String(),
			"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--registry-depth", "4", "--key-cache", cache}, &stdout, &logs)
	}()
	httpURL := strings.TrimPrefix(waitFor(t, &stdout, regexp.MustCompile(`pool http: http://\S+`), done), "pool http: ")
	m := regexp.MustCompile(`pool quic: (\S+) key ([0-9a-f]{64})`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no QUIC line: %q", stdout.String())
	}
	id, _ := transport.ParsePeerID(m[2])
	c, err := pool.NewClient(validator, pool.ClientConfig{Addr: m[1], Server: id})
	if err != nil {
		t.Fatal(err)
	}
	cdone := make(chan error, 1)
	go func() { cdone <- c.Run(ctx) }()

	ik, err := prover.LoadIdentityKeys(cache, true)
	if err != nil {
		t.Fatal(err)
	}
	g := node.Genesis()
	domain := registry.ComputeDomain(prover.Network{GenesisForkVersion: beacon.GenesisForkVersion, GenesisValidatorsRoot: node.GenesisValidatorsRoot()})
	reg, err := registry.Sign(ik, g.Secrets[1], 32_000_000_000, domain)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if err := c.Register(rctx, reg); err != nil {
		t.Fatalf("a devnet validator's registration: %v", err)
	}
	wrong, _ := registry.Sign(ik, g.Secrets[2], 31_000_000_000, domain) // not its effective balance
	if err := c.Register(rctx, wrong); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("registration at the wrong weight: %v", err)
	}
	resp, err := http.Get(httpURL + "/pool/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health["status"] != "ok" || health["pending_registrations"] == nil {
		t.Fatalf("health: %d %v", resp.StatusCode, health)
	}
	if resp, err := http.Get(httpURL + "/metrics"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %v", err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("zkv pool did not stop")
	}
	<-cdone
}
