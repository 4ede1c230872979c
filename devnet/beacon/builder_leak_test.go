package beacon_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// builderGoroutines counts the goroutines go-builder-client's HTTP service started: one per
// client, waiting for the context it was made with to end.
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

// settleBuilderGoroutines waits briefly for the count to reach want (a cancelled client's
// goroutine ends soon after, not at once) and returns the last count seen.
func settleBuilderGoroutines(want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := builderGoroutines()
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A node's builder client ends with the node: when Run returns, when a node served only through
// Handler is closed, and when New fails after making it.
func TestNodeBuilderClientEnds(t *testing.T) {
	b, err := beacontest.NewBuilder(beacontest.BuilderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg := beacon.Config{Validators: 8, GenesisTime: genesisTime, SlotTime: 2 * time.Second, BuilderURL: b.URL()}
	base := builderGoroutines()

	node, err := beacon.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := settleBuilderGoroutines(base + 1); n != base+1 {
		t.Fatalf("%d go-builder-client goroutines with a node, want %d", n, base+1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- node.Run(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/eth/v1/node/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if n := settleBuilderGoroutines(base); n != base {
		t.Fatalf("after Run returned: %d go-builder-client goroutines, want %d", n, base)
	}

	node, err = beacon.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := settleBuilderGoroutines(base + 1); n != base+1 {
		t.Fatalf("%d go-builder-client goroutines with a node, want %d", n, base+1)
	}
	node.Close()
	node.Close()
	if n := settleBuilderGoroutines(base); n != base {
		t.Fatalf("after Close: %d go-builder-client goroutines, want %d", n, base)
	}

	// A keystore directory that is a file fails New after the builder client is made.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.KeystoreDir = file
	if _, err := beacon.New(context.Background(), bad); err == nil {
		t.Fatal("New accepted a file as its keystore directory")
	}
	if n := settleBuilderGoroutines(base); n != base {
		t.Fatalf("after a failed New: %d go-builder-client goroutines, want %d", n, base)
	}
}
