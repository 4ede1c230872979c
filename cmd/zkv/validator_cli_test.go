package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidatorFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validator", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--beacon-node", "--keystores", "--password-file", "--db", "--graffiti", "--builder-boost-factor", "slashing protection", "SIGTERM", "doppelganger", "URL[,URL...]", "primary"} {
		if !strings.Contains(errOut.String(), strings.TrimPrefix(want, "-")) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"validator", "exit", "--help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "CANNOT BE UNDONE") {
		t.Fatalf("exit --help: exit %d, %s", code, errOut.String())
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"validator"},
		{"validator", "--keystores", dir},
		{"validator", "--db", dir},
		{"validator", "--keystores", dir, "--db", dir, "--graffiti", strings.Repeat("g", 33)},
		{"validator", "--keystores", dir, "--db", dir, "--fee-recipient", "0x1234"},
		{"validator", "--keystores", dir, "--db", dir, "--builder-boost-factor", "-5"},
		{"validator", "--keystores", dir, "--db", dir, "--log-level", "loud"},
		{"validator", "--keystores", dir, "--db", dir, "extra"},
		{"validator", "--keystores", dir, "--db", dir, "--beacon-node", "http://127.0.0.1:1,,http://127.0.0.1:2"},
		{"validator", "--keystores", dir, "--db", dir, "--beacon-node", "http://127.0.0.1:1, http://127.0.0.1:1"},
		{"validator", "--keystores", dir, "--db", dir, "--beacon-node", ""},
		{"validator", "--no-such-flag"},
		{"validator", "exit"},
		{"validator", "exit", "--keystores", dir},
		{"validator", "exit", "--keystores", dir, "--pubkeys", "0x12"},
		{"validator", "exit", "--keystores", dir, "--pubkeys", "0x" + strings.Repeat("ab", 48)}, // no --yes
		{"validator", "exit", "--keystores", dir, "--pubkeys", "0x" + strings.Repeat("ab", 48), "--yes", "--epoch", "-3"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut.String())
		}
	}
}

// `zkv validator` against `zkv devnet beacon` (both through run, as main calls them), with the
// keystores and password file the devnet wrote: it proposes and attests, and stops cleanly with
// exit 0 when its context ends (SIGINT/SIGTERM in main).
func TestValidatorRunsAgainstDevnet(t *testing.T) {
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
			"--graffiti", "zkv-test", "--fee-recipient", "0x00000000000000000000000000000000000000aa"}, &vout, &verr)
	}()
	waitFor(t, &verr, regexp.MustCompile(`msg="block proposed"`), vdone)
	vcancel()
	select {
	case code := <-vdone:
		if code != 0 {
			t.Fatalf("validator exit %d after cancel: %s", code, verr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("validator did not stop after its context ended")
	}
	if !strings.Contains(verr.String(), "validator stopped") || !strings.Contains(vout.String(), "zkv validator stopped") {
		t.Fatalf("no clean stop reported:\n%s\n%s", vout.String(), verr.String())
	}
	cancel()
	<-bdone
}

// waitFor polls a command's output until re matches (the command is running in the background),
// failing if it exits first or nothing matches within 30 s.
func waitFor(t *testing.T, b *syncBuffer, re *regexp.Regexp, done chan int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindString(b.String()); m != "" {
			return m
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before %q appeared: %s", code, re, b.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q did not appear: %s", re, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
