package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/zkvlabs/zkv/validator/propconfig"
)

// recordingSetter is the validator client's SetProposerConfig: it keeps what it accepted and
// refuses every config while refuse is set.
type recordingSetter struct {
	mu     sync.Mutex
	got    []*propconfig.Config
	refuse error
}

func (r *recordingSetter) SetProposerConfig(c *propconfig.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.got = append(r.got, c)
	return nil
}

// notifyHandler tells lines about each record it has written.
type notifyHandler struct {
	slog.Handler
	lines chan<- struct{}
}

func (h *notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	h.lines <- struct{}{}
	return err
}

// Each SIGHUP reads the file again: a good file is handed over, a bad one (or one the client
// refuses) is logged and not handed over, so the previous config stays.
func TestReloadOnSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proposer.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal)
	var logs bytes.Buffer
	lines := make(chan struct{})
	set := &recordingSetter{}
	done := make(chan struct{})
	go func() {
		reloadOnSignal(ctx, sig, path, set, slog.New(&notifyHandler{slog.NewTextHandler(&logs, nil), lines}))
		close(done)
	}()
	// Each reload logs one line; waiting for it orders the file writes after the reads.
	hup := func() { sig <- syscall.SIGHUP; <-lines }
	write("default:\n  gas_limit: 7\n")
	hup()
	write("default:\n  gas_limit: 0\n")
	hup()
	write("default:\n  gas_limt: 8\n")
	hup()
	write("default:\n  gas_limit: 9\n")
	set.mu.Lock()
	set.refuse = errors.New("public key not among the loaded keystores")
	set.mu.Unlock()
	hup()
	os.Remove(path)
	hup()
	cancel()
	<-done

	if len(set.got) != 1 || *set.got[0].Default.GasLimit != 7 {
		t.Fatalf("configs handed over: %d, want only the first good one", len(set.got))
	}
	out := logs.String()
	for _, want := range []string{"proposer config reloaded", `gas_limit \"0\"`, "field gas_limt not found", "public key not among the loaded keystores"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "previous one stays"); n != 4 {
		t.Errorf("%d refused reloads logged, want 4 (a bad value, an unknown key, a refusal, no file):\n%s", n, out)
	}
}

// A bad --proposer-config is a usage error that names the problem, before anything starts.
func TestValidatorProposerConfigFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proposer.yaml")
	if err := os.WriteFile(path, []byte("default:\n  builder:\n    boost_factor: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"validator", "--keystores", dir, "--db", dir, "--proposer-config", path}
	if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "boost_factor") {
		t.Errorf("bad file: exit %d, %s; want 2 and a message about boost_factor", code, errOut.String())
	}
	errOut.Reset()
	args[len(args)-1] = filepath.Join(dir, "missing.yaml")
	if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "missing.yaml") {
		t.Errorf("missing file: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if run(context.Background(), []string{"validator", "--help"}, &out, &errOut); !strings.Contains(errOut.String(), "proposer-config") || !strings.Contains(errOut.String(), "SIGHUP") {
		t.Errorf("--help does not explain --proposer-config and SIGHUP")
	}
}
