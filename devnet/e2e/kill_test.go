package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
)

// TestMain runs the test binary as a relay process when the kill test asks it to.
func TestMain(m *testing.M) {
	if os.Getenv("ZKV_E2E_RELAY_CHILD") != "" {
		if err := childRelay(); err != nil {
			fmt.Fprintln(os.Stderr, "child relay:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childRelay is a relay process: node URL, database, address, key and a fixed clock from the
// environment; it prints "ready" once it follows the node's events, and runs until killed.
func childRelay() error {
	ctx := context.Background()
	raw, err := hex.DecodeString(os.Getenv("ZKV_E2E_KEY"))
	if err != nil {
		return err
	}
	sk, err := bls.SecretKeyFromBytes(raw)
	if err != nil {
		return err
	}
	nanos, err := strconv.ParseInt(os.Getenv("ZKV_E2E_NOW"), 10, 64)
	if err != nil {
		return err
	}
	now := time.Unix(0, nanos)
	d, err := db.Open(db.Config{Dir: os.Getenv("ZKV_E2E_DB")})
	if err != nil {
		return err
	}
	bc, err := mev.NewBeaconClient(ctx, []string{os.Getenv("ZKV_E2E_NODE")}, nil)
	if err != nil {
		return err
	}
	r, err := mev.New(ctx, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(d), BlockHasher: execution.BlockHash,
		Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", os.Getenv("ZKV_E2E_ADDR"))
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, ln) }()
	select {
	case <-r.Ready():
	case err := <-errc:
		return err
	}
	fmt.Println("ready")
	return <-errc
}

// spawnRelay starts a relay process on h's relay address and database and waits until it is
// ready; the returned function kills it with SIGKILL.
func spawnRelay(h *harness, now time.Time) (kill func()) {
	h.t.Helper()
	b := h.relaySK.Bytes()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ZKV_E2E_RELAY_CHILD=1", "ZKV_E2E_NODE="+h.nodeURL, "ZKV_E2E_DB="+h.dbDir,
		"ZKV_E2E_ADDR="+h.relayAddr(), "ZKV_E2E_KEY="+hex.EncodeToString(b[:]), fmt.Sprintf("ZKV_E2E_NOW=%d", now.UnixNano()))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	kill = func() {
		_ = cmd.Process.Signal(os.Kill) // SIGKILL: no shutdown, no database close
		_ = cmd.Wait()
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			kill()
			h.t.Fatal("relay process exited before it was ready")
		}
	case <-time.After(30 * time.Second):
		kill()
		h.t.Fatal("relay process not ready")
	}
	h.t.Cleanup(kill)
	return kill
}

// A relay process killed with SIGKILL after serving a header, and again after delivering the
// payload: the payload is delivered, once, and a second blinded block for the slot is refused.
func TestRelayKilled(t *testing.T) {
	slot1 := genesisTime.Add(2*time.Second + time.Millisecond)
	var kill func()
	h := newHarnessWith(t, func(h *harness, ln net.Listener) {
		_ = ln.Close()
		kill = spawnRelay(h, slot1)
	}, true)
	h.registerThroughNode()
	s := h.bidFor(1, 1_000_000_000, 1)
	first := h.blindedProposal(1, 1) // the node fetched the header: served
	second := h.blindedProposal(1, 2)
	kill()

	kill = spawnRelay(h, slot1)
	full, err := h.unblind(first, false)
	if err != nil || full.Electra.SignedBlock.Message.Body.ExecutionPayload.BlockHash != s.Payload.BlockHash {
		t.Fatalf("payload after SIGKILL: %v", err)
	}
	kill() // right after the payload left: its delivery record must have been durable

	spawnRelay(h, slot1)
	if code, msg := h.postBlinded("/eth/v1/builder/blinded_blocks", second); code != http.StatusBadRequest || !strings.Contains(msg, "equivocation") {
		t.Fatalf("a second blinded block after SIGKILL: %d %s", code, msg)
	}
	if _, err := h.unblind(first, true); err != nil {
		t.Fatalf("the same blinded block after SIGKILL: %v", err)
	}
}
