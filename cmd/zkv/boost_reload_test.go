package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: fallback.Relays})
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
		{"boost", "--relays", relay + "#quic=127.0.0.1:9@" + strings.Repeat("ab", 32)}, // no --quic-key
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 with a message (%s)", args, code, errOut.String())
		}
	}
}

// `zkv boost --genesis-time T --quic-key F` prints its QUIC key (creating the file 0600) and
// answers a getHeader for a slot long past with 204 at once: the late-in-slot cut-off.
func TestBoostRunsWithGenesis(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relay := fmt.Sprintf("http://0x%s@127.0.0.1:1", strings.Repeat("a", 96))
	keyFile := filepath.Join(t.TempDir(), "boost-quic.key")
	var out, logs syncBuffer
	done := make(chan int, 1)
	genesis := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
	go func() {
		done <- run(ctx, []string{"boost", "--relays", relay, "--listen", "127.0.0.1:0", "--genesis-time", genesis, "--quic-key", keyFile}, &out, &logs)
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	deadline := time.Now().Add(10 * time.Second)
	var url string
	for url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q %s", out.String(), logs.String())
		}
		url = re.FindString(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	if !regexp.MustCompile(`boost quic key [0-9a-f]{64}`).MatchString(out.String()) {
		t.Errorf("no QUIC key printed: %q", out.String())
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("QUIC key file: %v %v", fi, err)
	}
	resp, err := http.Get(url + "/eth/v1/builder/header/1/0x" + strings.Repeat("00", 32) + "/0x" + strings.Repeat("00", 48))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("getHeader for slot 1, an hour after genesis: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), "too late in the slot") {
		t.Errorf("the late getHeader is not logged as such:\n%s", logs.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}
