package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/zkvlabs/zkv/pbs"
)

// recordingBoost passes configs to a real boost and keeps those it accepted.
type recordingBoost struct {
	b   *pbs.Boost
	mu  sync.Mutex
	got []pbs.RelayConfig
}

func (r *recordingBoost) SetRelayConfig(c pbs.RelayConfig) error {
	if err := r.b.SetRelayConfig(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.got = append(r.got, c)
	r.mu.Unlock()
	return nil
}

// Each SIGHUP reads the relay-set file again: a good file goes to the boost, a bad one (or a
// missing one) is logged with its reason and the previous sets stay.
func TestBoostReloadOnSignal(t *testing.T) {
	relay := fmt.Sprintf("http://0x%s@127.0.0.1:1", strings.Repeat("a", 96))
	other := fmt.Sprintf("http://0x%s@127.0.0.1:2", strings.Repeat("b", 96))
	e, err := pbs.ParseRelayURL(relay)
	if err != nil {
		t.Fatal(err)
	}
	fallback := pbs.RelayPolicy{Relays: []pbs.RelayEntry{e}}
	b, err := pbs.NewBoost(context.Background(), pbs.BoostConfig{Relays: fallback.Relays})
	if err != nil {
		t.Fatal(err)
	}
	set := &recordingBoost{b: b}
	path := filepath.Join(t.TempDir(), "relays.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal)
	var logs bytes.Buffer
	lines := make(chan struct{})
	done := make(chan struct{})
	go func() {
		reloadRelayConfig(ctx, sig, path, fallback, set, slog.New(&notifyHandler{slog.NewTextHandler(&logs, nil), lines}))
		close(done)
	}()
	hup := func() { sig <- syscall.SIGHUP; <-lines }
	write(fmt.Sprintf("proposer_config:\n  \"0x%s\": {builder_relays: [%q]}\n", strings.Repeat("c", 96), other))
	hup()
	write("default_config: {builder_relay: []}\n") // misspelt
	hup()
	write("default_config: {min_bid: \"-1\"}\n")
	hup()
	os.Remove(path)
	hup()
	cancel()
	<-done

	if len(set.got) != 1 || len(set.got[0].Proposers) != 1 || set.got[0].Default.Relays[0] != e {
		t.Fatalf("configs handed over: %+v, want only the first (with --relays as its default)", set.got)
	}
	out := logs.String()
	for _, want := range []string{"relay config reloaded", "builder_relay not found", "min_bid", "no such file"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "previous one stays"); n != 3 {
		t.Errorf("%d refused reloads logged, want 3:\n%s", n, out)
	}
}

// The new flags' mistakes are usage errors with a message.
func TestBoostTimingAndConfigFlags(t *testing.T) {
	relay := fmt.Sprintf("http://0x%s@127.0.0.1:1", strings.Repeat("a", 96))
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("proposer_config: {\"0x12\": {}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"boost", "--relays", relay, "--beacon-node", "http://127.0.0.1:1", "--genesis-time", "1"},
		{"boost", "--relays", relay, "--genesis-time", "-5"},
		{"boost", "--relays", relay, "--late-in-slot-ms", "0"},
		{"boost", "--relays", relay + "#quic=127.0.0.1:9"},
		{"boost", "--relays", relay, "--config", filepath.Join(dir, "missing.yaml")},
		{"boost", "--relays", relay, "--config", bad},
		{"boost", "--config", filepath.Join(dir, "missing.yaml")},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 with a message (%s)", args, code, errOut.String())
		}
	}
}
