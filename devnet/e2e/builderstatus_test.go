package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// newHarnessWithRelay is newHarness with the relay's Config changed by mod (re-applied on
// restartRelayWith), and an admin server of the relay's AdminHandler.
func newHarnessWithRelay(t *testing.T, mod func(*mev.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, func(h *harness, ln net.Listener) {
		h.relay, h.stop = runRelayWith(h, h.dbDir, ln, mod)
		t.Cleanup(func() { h.stop() })
	}, true)
}

// runRelayWith is harness.runRelay with the relay's Config changed by mod.
func runRelayWith(h *harness, dir string, ln net.Listener, mod func(*mev.Config)) (*mev.Relay, func()) {
	t := h.t
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		t.Fatalf("open relay db: %v", err)
	}
	bc, err := mev.NewBeaconClient(h.ctx, []string{h.nodeURL}, h.log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mev.Config{SecretKey: h.relaySK, Beacon: bc, Store: mev.NewBadgerStore(d), Now: h.clock.Now,
		BlockHasher: execution.BlockHash, Logger: h.log.With("part", "relay"), Registerer: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg)
	}
	r, err := mev.New(h.ctx, cfg)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, ln) }()
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("relay stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not connect to the beacon node's events")
	}
	h.relays = append(h.relays, r)
	var once sync.Once
	return r, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay Run: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("close relay db: %v", err)
			}
		})
	}
}

// restartRelayWith stops the relay and starts a new one on the same address, directory and mod.
func (h *harness) restartRelayWith(mod func(*mev.Config)) {
	addr := h.relayAddr()
	h.stop()
	h.relays = slices.DeleteFunc(h.relays, func(r *mev.Relay) bool { return r == h.relay })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		h.t.Fatalf("listen again on %s: %v", addr, err)
	}
	h.relay, h.stop = runRelayWith(h, h.dbDir, ln, mod)
}

// admin calls the relay's admin API (a server of AdminHandler) and decodes the answer into out.
func admin(t *testing.T, r *mev.Relay, method, path string, out any) int {
	t.Helper()
	srv := httptest.NewServer(r.AdminHandler())
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return resp.StatusCode
}

// simulator is an execution client's block validation endpoint for tests: a JSON-RPC server on
// 127.0.0.1 that checks what a real one checks first: the method for the fork, the block hash
// (recomputed from the payload, the parent beacon block root and the execution requests, as the
// devnet's execution chain computes it), the trace against the payload, and the registered gas
// limit. hold, when set, keeps each request until it is closed or the request ends.
type simulator struct {
	t        *testing.T
	srv      *httptest.Server
	calls    atomic.Int64
	inflight atomic.Int64
	highPrio atomic.Int64
	mu       sync.Mutex
	hold     chan struct{}
	stall    bool // never answer (the relay's timeout ends the request)
}

func newSimulator(t *testing.T) *simulator {
	s := &simulator{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *simulator) url() string { return s.srv.URL }

func (s *simulator) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if r.Header.Get("X-High-Priority") == "true" {
		s.highPrio.Add(1)
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params []struct {
			Message               *builderapiv1.BidTrace     `json:"message"`
			ExecutionPayload      *deneb.ExecutionPayload    `json:"execution_payload"`
			BlobsBundle           *builderfulu.BlobsBundle   `json:"blobs_bundle"`
			ExecutionRequests     *electra.ExecutionRequests `json:"execution_requests"`
			Signature             string                     `json:"signature"`
			RegisteredGasLimit    string                     `json:"registered_gas_limit"`
			ParentBeaconBlockRoot string                     `json:"parent_beacon_block_root"`
		} `json:"params"`
	}
	answer := func(errMsg string) {
		w.Header().Set("Content-Type", "application/json")
		if errMsg == "" {
			_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": nil})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32000, "message": errMsg}})
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Params) != 1 {
		answer("invalid request")
		return
	}
	s.mu.Lock()
	hold, stall := s.hold, s.stall
	s.mu.Unlock()
	if stall {
		<-r.Context().Done()
		return
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	p := req.Params[0]
	if req.Method != "flashbots_validateBuilderSubmissionV4" {
		answer("method " + req.Method + " not found for an electra block")
		return
	}
	if p.Message == nil || p.ExecutionPayload == nil || p.ExecutionRequests == nil || p.BlobsBundle == nil || len(p.Signature) != 2+192 {
		answer("incomplete validation request")
		return
	}
	var root phase0.Root
	if err := hexDecode(root[:], p.ParentBeaconBlockRoot); err != nil {
		answer("parent_beacon_block_root: " + err.Error())
		return
	}
	h, err := execution.BlockHash(p.ExecutionPayload, root, p.ExecutionRequests)
	if err != nil {
		answer(err.Error())
		return
	}
	switch {
	case h != p.ExecutionPayload.BlockHash:
		answer("invalid block hash " + p.ExecutionPayload.BlockHash.String() + ", computed " + h.String())
	case p.Message.BlockHash != p.ExecutionPayload.BlockHash:
		answer("block hash mismatch between message and payload")
	case p.RegisteredGasLimit != "36000000":
		answer("registered gas limit " + p.RegisteredGasLimit + ", the registration says 36000000")
	default:
		answer("")
	}
}

func hexDecode(dst []byte, s string) error {
	var h phase0.Hash32
	if err := h.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		return err
	}
	copy(dst, h[:])
	return nil
}

// badBlockHash makes s's block hash one the simulator recomputes differently (the trace agrees
// with the payload, so only execution finds it) and signs it again.
func (h *harness) badBlockHash(s *mev.Submission) {
	s.Payload.BlockHash[0] ^= 0xff
	s.Trace.BlockHash = s.Payload.BlockHash
	h.builder.resign(s)
}

// submitAt builds the builder's bid of value for slot and posts it.
func (h *harness) submitAt(slot phase0.Slot, value uint64, tag byte, bad bool) (*mev.Submission, int, string) {
	h.t.Helper()
	a := h.at(slot, 0)
	idx, pk := h.proposer(slot)
	s := h.builder.build(a, pk, feeRecipient(idx), value, tag)
	if bad {
		h.badBlockHash(s)
	}
	code, msg := h.builder.post(s, pbs.MediaSSZ, "?cancellations=1", nil)
	return s, code, msg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A blacklisted builder's submissions are refused with a 400 naming the check, also after a
// restart (the status is in badger); lifting the blacklist lets them in again.
func TestBuilderBlacklisted(t *testing.T) {
	h := newHarnessWithRelay(t, nil)
	h.registerThroughNode()
	pk := h.builder.pk.String()
	var st mev.BuilderStatus
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/"+pk+"?blacklisted=true", &st); code != 200 || !st.Blacklisted {
		t.Fatalf("blacklist: %d %+v", code, st)
	}
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/"+pk+"?blacklisted=maybe", nil); code != http.StatusBadRequest {
		t.Fatalf("a bad flag value: %d, want 400", code)
	}
	if code := admin(t, h.relay, http.MethodGet, "/internal/v1/builder/0x1234", nil); code != http.StatusBadRequest {
		t.Fatalf("a bad pubkey: %d, want 400", code)
	}
	_, code, msg := h.submitAt(1, 1_000_000_000, 1, false)
	if code != http.StatusBadRequest || !strings.Contains(msg, "builder: builder "+pk+" is blacklisted") {
		t.Fatalf("blacklisted builder's submission: %d %s", code, msg)
	}
	h.restartRelayWith(nil)
	if !h.relay.BuilderStatus(h.builder.pk).Blacklisted {
		t.Fatal("the blacklist did not survive a restart")
	}
	// (The restarted relay has missed the payload attributes of slots 1 and 2: slot 3.)
	if _, code, msg := h.submitAt(3, 1_000_000_001, 2, false); code != http.StatusBadRequest || !strings.Contains(msg, "blacklisted") {
		t.Fatalf("after a restart: %d %s", code, msg)
	}
	if code := admin(t, h.relay, http.MethodPut, "/internal/v1/builder/"+pk+"?blacklisted=false", &st); code != 200 || st.Blacklisted {
		t.Fatalf("lift the blacklist: %d %+v", code, st)
	}
	if _, code, msg := h.submitAt(3, 1_000_000_002, 3, false); code != http.StatusOK {
		t.Fatalf("after the blacklist is lifted: %d %s", code, msg)
	}
}

// Simulation through the execution client: a valid block is accepted after the simulator saw
// it; a block the simulator refuses is a 400 with the simulator's reason; a simulator that does
// not answer in time is a 504, as mev-boost-relay answers; a high-priority builder's request
// carries X-High-Priority.
func TestSimulation(t *testing.T) {
	sim := newSimulator(t)
	mod := func(c *mev.Config) {
		x, err := mev.NewExecutionSimulator(sim.url(), 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		c.Simulator = x
		c.BlockHasher = nil // the simulator is what finds a bad block hash
	}
	var logs syncBuffer
	h := newHarnessWithRelay(t, func(c *mev.Config) {
		mod(c)
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	h.registerThroughNode()
	if _, code, msg := h.submitAt(1, 1_000_000_000, 1, false); code != http.StatusOK || sim.calls.Load() != 1 {
		t.Fatalf("valid block: %d %s (%d simulations)", code, msg, sim.calls.Load())
	}
	_, code, msg := h.submitAt(1, 1_000_000_001, 2, true)
	if code != http.StatusBadRequest || !strings.Contains(msg, "simulation: invalid block hash") {
		t.Fatalf("invalid block: %d %s", code, msg)
	}
	if sim.highPrio.Load() != 0 {
		t.Fatal("a low-priority builder's simulation was sent with X-High-Priority")
	}
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/"+h.builder.pk.String()+"?high_prio=true", nil); code != 200 {
		t.Fatalf("high_prio: %d", code)
	}
	if _, code, msg := h.submitAt(1, 1_000_000_002, 3, false); code != http.StatusOK || sim.highPrio.Load() != 1 {
		t.Fatalf("high-priority builder: %d %s (%d high-priority simulations)", code, msg, sim.highPrio.Load())
	}
	// One structured line per submission: slot, builder, value, outcome (and the failed step).
	var accepted, refused int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct {
			Msg, Builder, Value, Outcome, Step, Slot string
		}
		if json.Unmarshal([]byte(line), &l) != nil || !strings.HasPrefix(l.Msg, "submission ") {
			continue
		}
		if l.Slot != "1" || l.Builder != h.builder.pk.String() || !strings.HasPrefix(l.Value, "100000000") {
			t.Errorf("submission log line without its slot, builder or value: %s", line)
		}
		switch {
		case l.Outcome == "accepted":
			accepted++
		case l.Outcome == "refused" && l.Step == "simulation":
			refused++
		}
	}
	if accepted != 2 || refused != 1 {
		t.Errorf("log lines: %d accepted, %d refused by simulation; want 2 and 1:\n%s", accepted, refused, logs.String())
	}
	sim.mu.Lock()
	sim.stall = true
	sim.mu.Unlock()
	if _, code, msg := h.submitAt(1, 1_000_000_003, 4, false); code != http.StatusGatewayTimeout || !strings.Contains(msg, "simulation timed out") {
		t.Fatalf("simulator timeout: %d %s", code, msg)
	}
}

// An optimistic builder whose collateral covers the bid has it accepted while the simulation is
// still running; when the simulation then fails, the builder is demoted (durably, with a
// demotion record): its next bid waits for simulation and an invalid one is refused. A bid
// above the collateral is simulated before it is accepted, even while the builder is optimistic.
func TestOptimisticBuilderDemoted(t *testing.T) {
	sim := newSimulator(t)
	mod := func(c *mev.Config) {
		x, err := mev.NewExecutionSimulator(sim.url(), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Simulator = x
		c.BlockHasher = nil
	}
	h := newHarnessWithRelay(t, mod)
	h.registerThroughNode()
	pk := h.builder.pk.String()
	var st mev.BuilderStatus
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/collateral/"+pk+"?collateral=builder-a&value=5000000000", &st); code != 200 || st.Collateral.Uint64() != 5_000_000_000 || st.BuilderID != "builder-a" {
		t.Fatalf("collateral: %d %+v", code, st)
	}
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/"+pk+"?optimistic=true", &st); code != 200 || !st.Optimistic || st.Collateral.Uint64() != 5_000_000_000 {
		t.Fatalf("optimistic: %d %+v", code, st)
	}

	// Above the collateral: simulated first, so the invalid block is refused.
	if _, code, msg := h.submitAt(1, 6_000_000_000, 1, true); code != http.StatusBadRequest || !strings.Contains(msg, "simulation:") {
		t.Fatalf("bid above the collateral: %d %s", code, msg)
	}
	// Within it: accepted while the simulator still holds the request.
	release := make(chan struct{})
	sim.mu.Lock()
	sim.hold = release
	sim.mu.Unlock()
	calls := sim.calls.Load()
	s, code, msg := h.submitAt(1, 4_000_000_000, 2, true)
	if code != http.StatusOK {
		t.Fatalf("optimistic bid: %d %s", code, msg)
	}
	waitFor(t, "the late simulation to reach the simulator", func() bool { return sim.calls.Load() == calls+1 })
	// The data API says it was an optimistic submission, as mev-boost-relay's does.
	resp, err := http.Get(h.plainRelayURL() + "/relay/v1/data/bidtraces/builder_blocks_received?slot=1&block_hash=" + s.Trace.BlockHash.String())
	if err != nil {
		t.Fatal(err)
	}
	var recv []mev.TraceJSON
	if err := json.NewDecoder(resp.Body).Decode(&recv); err != nil || len(recv) != 1 || recv[0].OptimisticSubmission == nil || !*recv[0].OptimisticSubmission {
		t.Fatalf("builder_blocks_received: %+v %v, want the optimistic submission", recv, err)
	}
	resp.Body.Close()
	if sim.inflight.Load() != 1 || !h.relay.BuilderStatus(h.builder.pk).Optimistic {
		t.Fatal("the optimistic bid was not accepted before its simulation finished")
	}
	sim.mu.Lock()
	sim.hold = nil
	sim.mu.Unlock()
	close(release)
	waitFor(t, "the demotion", func() bool { return !h.relay.BuilderStatus(h.builder.pk).Optimistic })
	var ds []mev.Demotion
	if code := admin(t, h.relay, http.MethodGet, "/internal/v1/builder/demotions", &ds); code != 200 || len(ds) != 1 ||
		ds[0].BlockHash != s.Trace.BlockHash || ds[0].Builder != h.builder.pk || !strings.Contains(ds[0].Reason, "invalid block hash") {
		t.Fatalf("demotions: %d %+v", code, ds)
	}
	// Demoted: an invalid bid within the collateral is now simulated first and refused.
	if _, code, msg := h.submitAt(1, 4_000_000_001, 3, true); code != http.StatusBadRequest || !strings.Contains(msg, "simulation:") {
		t.Fatalf("demoted builder's invalid bid: %d %s", code, msg)
	}
	// The metrics say so, with mev-boost-relay's names where it has them.
	resp, err = http.Get(h.plainRelayURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"builder_demotion_count_total 1", `zkv_relay_simulations_total{mode="optimistic",result="invalid"} 1`,
		`zkv_relay_simulations_total{mode="sync",result="invalid"} 2`, "submit_new_block_latency_milliseconds_count 3",
		"submit_new_block_simulation_latency_milliseconds_count 3", "zkv_relay_bid_queue_length 0", "zkv_relay_submissions_waiting 0"} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The demotion is durable.
	h.restartRelayWith(mod)
	st = h.relay.BuilderStatus(h.builder.pk)
	if st.Optimistic || st.Collateral.Uint64() != 5_000_000_000 {
		t.Fatalf("after a restart: %+v", st)
	}
	if ds, err := h.relay.Demotions(h.ctx); err != nil || len(ds) != 1 {
		t.Fatalf("demotions after a restart: %v %v", ds, err)
	}
}

// A failed delivery demotes an optimistic builder: its invalid block, accepted optimistically
// while the simulation is still running, fails to publish through the beacon node (v2), and the
// builder is demoted for it before the simulation has answered.
func TestOptimisticBuilderDemotedOnFailedDelivery(t *testing.T) {
	sim := newSimulator(t)
	release := make(chan struct{})
	sim.hold = release
	mod := func(c *mev.Config) {
		x, err := mev.NewExecutionSimulator(sim.url(), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Simulator = x
		c.BlockHasher = nil
	}
	h := newHarnessWithRelay(t, mod)
	h.registerThroughNode()
	pk := h.builder.pk.String()
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/collateral/"+pk+"?value=5000000000", nil); code != 200 {
		t.Fatalf("collateral: %d", code)
	}
	if code := admin(t, h.relay, http.MethodPost, "/internal/v1/builder/"+pk+"?optimistic=true", nil); code != 200 {
		t.Fatalf("optimistic: %d", code)
	}
	s, code, msg := h.submitAt(1, 4_000_000_000, 1, true)
	if code != http.StatusOK {
		t.Fatalf("optimistic bid: %d %s", code, msg)
	}
	signed := h.blindedProposal(1, 1)
	if code, msg := h.postBlinded("/eth/v2/builder/blinded_blocks", signed); code == http.StatusAccepted {
		t.Fatalf("the node published a block with a wrong block hash: %d %s", code, msg)
	}
	if h.relay.BuilderStatus(h.builder.pk).Optimistic {
		t.Fatal("the builder is still optimistic after its block failed to publish")
	}
	ds, err := h.relay.Demotions(h.ctx)
	if err != nil || len(ds) != 1 || ds[0].BlockHash != s.Trace.BlockHash || !strings.Contains(ds[0].Reason, "delivery") {
		t.Fatalf("demotions: %+v %v", ds, err)
	}
	if sim.inflight.Load() != 1 {
		t.Fatal("the simulation had answered: the demotion is not the delivery's")
	}
	// The late simulation then fails too: a second record, the first kept.
	sim.mu.Lock()
	sim.hold = nil
	sim.mu.Unlock()
	release <- struct{}{}
	waitFor(t, "the second demotion", func() bool { ds, _ := h.relay.Demotions(h.ctx); return len(ds) == 2 })
	ds, _ = h.relay.Demotions(h.ctx)
	if !strings.Contains(ds[0].Reason+ds[1].Reason, "delivery") || !strings.Contains(ds[0].Reason+ds[1].Reason, "late simulation") {
		t.Fatalf("demotions: %+v", ds)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
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
