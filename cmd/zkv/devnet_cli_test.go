package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestDevnetBeaconFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"devnet", "beacon", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	if !strings.Contains(errOut.String(), "SIMULATOR") || !strings.Contains(errOut.String(), "What it does not do") {
		t.Fatalf("--help does not explain the simulator's limits:\n%s", errOut.String())
	}
	for _, args := range [][]string{
		{"devnet", "beacon", "--preset", "gnosis"},
		{"devnet", "beacon", "--validators", "0"},
		{"devnet", "beacon", "--no-such-flag"},
		{"devnet", "beacon", "extra"},
		{"devnet", "nothing"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"devnet", "beacon", "--slot-time", "1500ms", "--keystores", ""}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "whole number of seconds") {
		t.Errorf("fractional slot time: exit %d, %q", code, errOut.String())
	}
}

// `zkv devnet beacon` serves the Beacon API on the address it prints, writes keystores where it
// says, and stops cleanly when its context ends (SIGINT/SIGTERM in main).
func TestDevnetBeaconRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "devnet")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"devnet", "beacon", "--validators", "4", "--listen", "127.0.0.1:0", "--keystores", dir, "--genesis-delay", "0s"}, &out, &errOut)
	}()
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	deadline := time.Now().Add(30 * time.Second)
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("exited %d before serving: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q", out.String())
		}
		url = urlRE.FindString(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(url + "/eth/v1/beacon/genesis")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Data struct {
			GenesisValidatorsRoot string `json:"genesis_validators_root"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil || resp.StatusCode != 200 {
		t.Fatalf("genesis: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if !strings.Contains(out.String(), g.Data.GenesisValidatorsRoot) {
		t.Fatalf("printed genesis validators root differs from the API's %s:\n%s", g.Data.GenesisValidatorsRoot, out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "keystore-*.json"))
	if len(files) != 4 {
		t.Fatalf("%d keystores in %s, want 4", len(files), dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "password.txt")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop after its context ended")
	}
}
