package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidatorMetricsFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validator", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--metrics-address", "--builder-fallback-skips", "--builder-fallback-skips-per-epoch", "vc_signed_", "vc_beacon_nodes_"} {
		if !strings.Contains(errOut.String(), strings.TrimPrefix(want, "-")) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"validator", "--keystores", dir, "--db", dir, "--builder-fallback-skips", "-1"},
		{"validator", "--keystores", dir, "--db", dir, "--builder-fallback-skips-per-epoch", "-2"},
		{"validator", "--keystores", dir, "--db", dir, "--metrics-address", "not an address"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut.String())
		}
	}
}

// `zkv validator --metrics-address 127.0.0.1:0` against `zkv devnet beacon`: once it has
// proposed, /metrics shows accepted attestations, the block, and the beacon node up.
func TestValidatorServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet for a few slots")
	}
	dir := filepath.Join(t.TempDir(), "devnet")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bout, berr syncBuffer
	bdone := make(chan int, 1)
	go func() {
		bdone <- run(ctx, []string{"devnet", "beacon", "--validators", "8", "--slot-time", "1s", "--listen", "127.0.0.1:0", "--keystores", dir, "--genesis-delay", "1s"}, &bout, &berr)
	}()
	url := waitFor(t, &bout, regexp.MustCompile(`http://127\.0\.0\.1:\d+`), bdone)

	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	var vout, verr syncBuffer
	vdone := make(chan int, 1)
	go func() {
		vdone <- run(vctx, []string{"validator", "--beacon-node", url, "--keystores", filepath.Join(dir, "keys"),
			"--password-file", filepath.Join(dir, "password.txt"), "--db", filepath.Join(t.TempDir(), "db"), "--insecure-kdf", "--doppelganger=false",
			"--metrics-address", "127.0.0.1:0"}, &vout, &verr)
	}()
	murl := strings.TrimPrefix(waitFor(t, &verr, regexp.MustCompile(`url=http://127\.0\.0\.1:\d+/metrics`), vdone), "url=")
	waitFor(t, &verr, regexp.MustCompile(`msg="block proposed"`), vdone)
	// The attestations of the slot of the block come a third of a slot later.
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(murl)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if regexp.MustCompile(`vc_signed_attestations_total\{status="success"\} [1-9]`).MatchString(body) || time.Now().After(deadline) {
			break
		}
	}
	for _, re := range []string{
		`vc_signed_attestations_total\{status="success"\} [1-9]`,
		`vc_signed_beacon_blocks_total\{status="success"\} [1-9]`,
		`vc_beacon_nodes_available_count 1`,
		`vc_validators_total_count 8`,
		`zkv_validator_validators\{status="active_ongoing"\} 8`,
		`zkv_validator_beacon_node_request_seconds_count\{beacon_node="http://127\.0\.0\.1:\d+",request="attestation_data"\} [1-9]`,
		`go_goroutines`,
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	vcancel()
	if code := <-vdone; code != 0 {
		t.Fatalf("validator exit %d: %s", code, verr.String())
	}
	cancel()
	<-bdone
}
