package pbs_test

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/pbs"
)

// builderGoroutines counts the goroutines that go-builder-client's HTTP service started: one
// per client, waiting for the context it was made with to end.
func builderGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("go-builder-client/http.New")) {
			count++
		}
	}
	return count
}

// settle waits briefly for count to reach want (a cancelled client's goroutine ends soon
// after, not at once) and returns the last count seen.
func settle(count func() int, want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := count()
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func settleBuilderGoroutines(want int) int { return settle(builderGoroutines, want) }

// Each relay's go-builder-client service lives as long as the relay: a reload that drops a
// relay, a reload that is refused after making a client, and the end of the boost's context
// all bring the count back, so SIGHUP reloads do not pile goroutines up.
func TestBoostRelayClientsEnd(t *testing.T) {
	a := newHeaderRelay(t, "good", 5, [32]byte{1}, 100, 1)
	b := newHeaderRelay(t, "good", 5, [32]byte{1}, 100, 2)
	c := newHeaderRelay(t, "good", 5, [32]byte{1}, 100, 3)
	base, baseAll := builderGoroutines(), runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boost, err := pbs.NewBoost(ctx, pbs.BoostConfig{Relays: []pbs.RelayEntry{a.entry, b.entry}, GenesisForkVersion: testFork})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- boost.Run(ctx) }()
	// The relays are asked, so their clients hold connections as in service.
	if _, err := boost.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if n := settleBuilderGoroutines(base + 2); n != base+2 {
		t.Fatalf("%d go-builder-client goroutines with two relays, want %d", n, base+2)
	}

	// A reload that keeps a and swaps b for c: b's client ends.
	for i := range 3 {
		set := []pbs.RelayEntry{a.entry, c.entry}
		if i%2 == 1 {
			set = []pbs.RelayEntry{a.entry, b.entry}
		}
		if err := boost.SetRelayConfig(pbs.RelayConfig{Default: pbs.RelayPolicy{Relays: set}}); err != nil {
			t.Fatal(err)
		}
		if n := settleBuilderGoroutines(base + 2); n != base+2 {
			t.Fatalf("reload %d: %d go-builder-client goroutines, want %d (two relays)", i, n, base+2)
		}
	}

	// A reload refused at its second relay (a QUIC door without a boost identity) after its first,
	// new, relay got a client: that client ends too, and the previous set stays.
	quic := c.entry
	quic.QUICAddr = "127.0.0.1:1"
	err = boost.SetRelayConfig(pbs.RelayConfig{Default: pbs.RelayPolicy{Relays: []pbs.RelayEntry{b.entry, quic}}})
	if err == nil || !strings.Contains(err.Error(), "no QUIC identity") {
		t.Fatalf("a QUIC relay without a boost identity: %v, want refused for the identity", err)
	}
	if n := settleBuilderGoroutines(base + 2); n != base+2 {
		t.Fatalf("after a refused reload: %d go-builder-client goroutines, want %d", n, base+2)
	}

	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if n := settleBuilderGoroutines(base); n != base {
		t.Fatalf("after the boost's context ended: %d go-builder-client goroutines, want %d", n, base)
	}
	// Nothing else stays either: the relays' kept-alive connections are closed with them.
	if n := settle(runtime.NumGoroutine, baseAll); n != baseAll {
		t.Fatalf("after the boost's context ended: %d goroutines, want %d as before it", n, baseAll)
	}
}
