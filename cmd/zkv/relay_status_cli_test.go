package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// zkv relay's flags for HTTP/3, the admin API and simulation: in --help, and refused when they
// do not fit together.
func TestRelayStatusFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"relay", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--http3", "--admin", "/internal/v1/builder/{pubkey}", "flashbots_validateBuilderSubmissionV4", "--simulation-timeout"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("--help does not mention %q", want)
		}
	}
	key := filepath.Join(t.TempDir(), "relay.key")
	base := []string{"relay", "--secret-key-file", key, "--beacon-node", "http://127.0.0.1:1", "--db", "x"}
	for _, extra := range [][]string{
		{"--execution-node", "ftp://127.0.0.1:1"},
		{"--simulation-timeout", "1s"},
		{"--execution-node", "http://127.0.0.1:1", "--simulation-timeout", "-1s"},
		{"--quic-key", "k"},
	} {
		errOut.Reset()
		args := append(append([]string{}, base...), extra...)
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 (usage) with a message", extra, code)
		}
	}
}
