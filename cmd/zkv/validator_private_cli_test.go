package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/transport"
)

// `zkv validator --pool` with `zkv pool` and `zkv devnet beacon`, each through run as main calls
// them, wired only by what they print and the files they write: the validator registers its
// keys with the pool, proves its attestations and the pool verifies them against its sealed
// roots.
func TestValidatorPrivateAttestationsCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tmp := t.TempDir()
	cache, devDir, vdb := filepath.Join(tmp, "keys"), filepath.Join(tmp, "devnet"), filepath.Join(tmp, "vdb")

	var out, errOut syncBuffer
	if code := run(ctx, []string{"prover", "setup", "--depth", "4", "--cache-dir", cache}, &out, &errOut); code != 0 {
		t.Fatalf("prover setup: %s", errOut.String())
	}
	var bout, berr syncBuffer
	bdone := make(chan int, 1)
	go func() {
		bdone <- run(ctx, []string{"devnet", "beacon", "--validators", "8", "--slot-time", "1s", "--listen", "127.0.0.1:0", "--keystores", devDir, "--genesis-delay", "3s"}, &bout, &berr)
	}()
	beaconURL := waitFor(t, &bout, regexp.MustCompile(`http://127\.0\.0\.1:\d+`), bdone)

	// The validator's QUIC key, made first so that the pool can pin it.
	keyFile := filepath.Join(tmp, "validator-quic.key")
	vid, err := transport.LoadOrCreateIdentity(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var pout, perr syncBuffer
	pdone := make(chan int, 1)
	go func() {
		pdone <- run(ctx, []string{"pool", "--db", filepath.Join(tmp, "pool"), "--beacon-node", beaconURL, "--peers", vid.ID().String(),
			"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--registry-depth", "4", "--key-cache", cache}, &pout, &perr)
	}()
	poolHTTP := strings.TrimPrefix(waitFor(t, &pout, regexp.MustCompile(`pool http: http://\S+`), pdone), "pool http: ")
	m := regexp.MustCompile(`pool quic: (\S+) key ([0-9a-f]{64})`).FindStringSubmatch(pout.String())
	if m == nil {
		t.Fatalf("no QUIC line: %q", pout.String())
	}

	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	var vout, verr syncBuffer
	vdone := make(chan int, 1)
	go func() {
		vdone <- run(vctx, []string{"validator", "--beacon-node", beaconURL, "--keystores", filepath.Join(devDir, "keys"),
			"--password-file", filepath.Join(devDir, "password.txt"), "--db", vdb, "--insecure-kdf", "--doppelganger=false",
			"--pool", m[1] + "@" + m[2], "--prover-keys", cache, "--registry-depth", "4", "--quic-key", keyFile}, &vout, &verr)
	}()
	waitFor(t, &vout, regexp.MustCompile(`validator quic key `+vid.ID().String()), vdone)

	// Registrations made in epoch 0 enter the root sealed at epoch 1 (slot 8): wait for proofs
	// of epoch 1's attestations, every validator's, verified by the pool.
	deadline := time.Now().Add(60 * time.Second)
	var verified uint64
	for verified < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("pool verified %d proofs of epoch 1, want 8\npool: %s\nvalidator: %s", verified, perr.String(), verr.String())
		}
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get(poolHTTP + "/pool/v1/counts")
		if err != nil {
			continue
		}
		var counts struct {
			Epochs []struct {
				Epoch    uint64 `json:"epoch"`
				Verified uint64 `json:"verified"`
				Refused  uint64 `json:"refused"`
			} `json:"epochs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&counts)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("pool counts: %v", err)
		}
		for _, c := range counts.Epochs {
			if c.Refused > 0 {
				t.Fatalf("pool refused proofs: %+v\n%s", counts, perr.String())
			}
			if c.Epoch == 1 {
				verified = c.Verified
			}
		}
	}
	vcancel()
	select {
	case code := <-vdone:
		if code != 0 {
			t.Fatalf("validator exit %d after cancel: %s", code, verr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("validator did not stop after its context ended")
	}
	cancel()
	<-pdone
	<-bdone
}
