package e2e_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
)

// countingServer serves the devnet node's Beacon API on its own listener and counts the
// attestation data requests and attestation submissions it receives: which of the two URLs
// the validator client is using shows in them.
type countingServer struct {
	t       *testing.T
	handler http.Handler
	addr    string
	data    atomic.Int64 // GET .../validator/attestation_data
	atts    atomic.Int64 // POST .../beacon/pool/attestations

	mu  sync.Mutex
	srv *http.Server
	wg  sync.WaitGroup
}

func (c *countingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/validator/attestation_data"):
		c.data.Add(1)
	case strings.HasSuffix(r.URL.Path, "/beacon/pool/attestations"):
		c.atts.Add(1)
	}
	c.handler.ServeHTTP(w, r)
}

// start listens on addr ("127.0.0.1:0" the first time, the same address on a restart).
func (c *countingServer) start(addr string) {
	c.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.t.Fatalf("listen on %s: %v", addr, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addr = ln.Addr().String()
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	srv := c.srv
	c.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.t.Errorf("server %s: %v", c.addr, err)
		}
	})
}

// stop closes the listener and every connection, event streams included: to the client the
// node is gone.
func (c *countingServer) stop() {
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	_ = srv.Close()
	c.wg.Wait()
}

func (c *countingServer) url() string { return "http://" + c.addr }

// The test of several beacon nodes: one devnet beacon node served on two listeners,
// the first the client's primary. The primary goes away in the middle of epoch 0 and comes
// back on the same address in epoch 1: duties go on through the secondary with no attestation
// missed, and the client then reads from the primary again.
func TestValidatorFallback(t *testing.T) {
	const validators = 16
	node, _, keyDir := devnet(t, validators)
	spe := phase0.Slot(node.Preset().SlotsPerEpoch)
	slotStart := func(s phase0.Slot) time.Time { return node.GenesisTime().Add(time.Duration(s) * node.SlotTime()) }

	primary := &countingServer{t: t, handler: node.Handler()}
	secondary := &countingServer{t: t, handler: node.Handler()}
	primary.start("127.0.0.1:0")
	secondary.start("127.0.0.1:0")
	t.Cleanup(func() { primary.stop(); secondary.stop() })

	var rep reports
	startValidatorWith(t, "", keyDir, t.TempDir(), &rep, client.WithBeaconNodes(primary.url(), secondary.url()),
		client.WithShutdownGrace(0), client.WithDoppelganger(0))

	// Epoch 0 up to slot 5: reads go to the primary, attestations to both.
	down, up := spe/2+1, spe+spe/2-1 // 5 and 11 with the minimal preset's 8 slots
	waitUntil(t, slotStart(down).Add(node.SlotTime()/2))
	if primary.data.Load() == 0 || secondary.data.Load() != 0 {
		t.Errorf("before the outage: attestation data from primary %d, secondary %d times; want only the primary",
			primary.data.Load(), secondary.data.Load())
	}
	if primary.atts.Load() == 0 || secondary.atts.Load() == 0 {
		t.Errorf("before the outage: attestations sent to primary %d, secondary %d times; want both", primary.atts.Load(), secondary.atts.Load())
	}
	primary.stop()
	secDuring := secondary.data.Load()

	waitUntil(t, slotStart(up))
	if got := secondary.data.Load() - secDuring; got == 0 {
		t.Error("during the outage the secondary served no attestation data")
	}
	primary.start(primary.addr)
	t.Logf("primary down from slot %d to %d", down, up)

	// Two slots to notice (a quarter slot) and settle, then only the primary is read from.
	back := up + 2
	waitUntil(t, slotStart(back))
	priBack, secBack := primary.data.Load(), secondary.data.Load()
	end := 2 * spe
	waitUntil(t, slotStart(end).Add(node.SlotTime()/2))
	if got := primary.data.Load() - priBack; got == 0 {
		t.Errorf("slots %d-%d: the primary served no attestation data after it came back", back, end)
	}
	if got := secondary.data.Load() - secBack; got != 0 {
		t.Errorf("slots %d-%d: the secondary served attestation data %d times; want the client back on the primary", back, end, got)
	}

	// Every validator attests once an epoch: epochs 0 and 1, which the outage (slots 5-11) and
	// the return span, must have all of them.
	done := map[phase0.Epoch]int{}
	for _, r := range rep.all() {
		if r.Kind != "attestation" {
			continue
		}
		if r.Failed > 0 {
			t.Errorf("slot %d: %d attestations failed: %v", r.Slot, r.Failed, r.Err)
		}
		done[phase0.Epoch(r.Slot/spe)] += r.Done
	}
	for e := phase0.Epoch(0); e <= 1; e++ {
		if done[e] != validators {
			t.Errorf("epoch %d: %d attestations, want %d (epochs: %v)", e, done[e], validators, done)
		}
	}
	t.Logf("attestations by epoch %v; attestation data: primary %d, secondary %d", done, primary.data.Load(), secondary.data.Load())
}
