package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/validator/client"
)

// pbsNet is a devnet beacon node on the wall clock whose builder is a real zkv boost in front of
// a real zkv relay, and a builder that bids on the relay for the slots bid selects.
type pbsNet struct {
	node     *beacon.Node
	url      string
	keyDir   string
	relayURL string // plain http://host:port
	builder  *wallBuilder
}

// pbsSlotTime is the slot of the builder tests: two seconds leave a loaded machine time for a
// bid to reach the relay between a block and the next slot.
const pbsSlotTime = 2 * time.Second

// proposerFee is the fee recipient the tests' validator clients register.
var proposerFee = bellatrix.ExecutionAddress{0xfe, 0xe5}

func newPBSNet(t *testing.T, validators int, bid func(phase0.Slot) bool) *pbsNet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	boostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relayLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Genesis leaves time for the relay, the boost, the builder and the client to start.
	node, url, keyDir := devnetWith(t, beacon.Config{Validators: validators, SlotTime: pbsSlotTime, GenesisDelay: 3 * time.Second,
		KeystoreDir: t.TempDir(), BuilderURL: "http://" + boostLn.Addr().String(), Logger: log.With("part", "node")})
	p := &pbsNet{node: node, url: url, keyDir: keyDir, relayURL: "http://" + relayLn.Addr().String()}

	// The relay, on a badger directory, following the node.
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(db.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := mev.NewBeaconClient(ctx, []string{url}, log)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := mev.New(ctx, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(d), BlockHasher: execution.BlockHash,
		Logger: log.With("part", "relay"), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(ctx, relayLn) }()
	// The boost, serving the node's builder API.
	pk := sk.PublicKey().Bytes()
	entry, err := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s", pk[:], relayLn.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	boost, err := pbs.NewBoost(ctx, pbs.BoostConfig{Relays: []pbs.RelayEntry{entry}, GenesisForkVersion: beacon.GenesisForkVersion,
		Logger: log.With("part", "boost")})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: boost.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(boostLn) })
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		wg.Wait()
		if err := <-relayDone; err != nil {
			t.Errorf("relay: %v", err)
		}
		d.Close()
	})
	select {
	case <-relay.Ready():
	case err := <-relayDone:
		t.Fatalf("relay stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not connect to the node")
	}
	p.builder = newWallBuilder(t, ctx, p, bid)
	return p
}

// wallBuilder is a block builder on the wall clock: it keeps an execution chain in step with
// the node's blocks (its own payloads and the node's local ones), and submits a bid to the relay
// on the payload attributes of each slot bid selects, until the relay accepts one or the slot
// starts.
type wallBuilder struct {
	t     *testing.T
	p     *pbsNet
	bid   func(phase0.Slot) bool
	sk    *bls.SecretKey
	chain *execution.Chain

	mu      sync.Mutex
	attrs   map[phase0.Slot]map[phase0.Hash32]*mev.Attributes
	bids    map[phase0.Slot]map[phase0.Hash32]phase0.Hash32 // parent hash -> accepted submission's block hash
	lastErr map[phase0.Slot]string
}

func newWallBuilder(t *testing.T, ctx context.Context, p *pbsNet, bid func(phase0.Slot) bool) *wallBuilder {
	t.Helper()
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := execution.NewChain(execution.Config{GenesisTime: uint64(p.node.GenesisTime().Unix()), ChainID: beacon.DevnetChainID})
	if err != nil {
		t.Fatal(err)
	}
	b := &wallBuilder{t: t, p: p, bid: bid, sk: sk, chain: chain, attrs: map[phase0.Slot]map[phase0.Hash32]*mev.Attributes{},
		bids: map[phase0.Slot]map[phase0.Hash32]phase0.Hash32{}, lastErr: map[phase0.Slot]string{}}
	bc, err := mev.NewBeaconClient(ctx, []string{p.url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obs := dial(t, p.url)
	connected := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		_ = bc.Follow(ctx, mev.Events{
			Connected: func(string) { once.Do(func() { close(connected) }) },
			PayloadAttributes: func(a *mev.Attributes) {
				b.mu.Lock()
				if b.attrs[a.Slot] == nil {
					b.attrs[a.Slot] = map[phase0.Hash32]*mev.Attributes{}
				}
				b.attrs[a.Slot][a.ParentBlockHash] = a
				b.mu.Unlock()
			},
			Head: func(slot phase0.Slot, root phase0.Root) { b.follow(ctx, obs, slot, root) },
		})
	})
	wg.Go(func() { b.run(ctx) })
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("builder did not connect to the node's events")
	}
	return b
}

func execAttributes(a *mev.Attributes, fee bellatrix.ExecutionAddress) execution.Attributes {
	return execution.Attributes{Slot: a.Slot, ProposerIndex: a.ProposerIndex, ParentBlockRoot: a.ParentBeaconBlockRoot,
		ParentBlockHash: a.ParentBlockHash, ParentBlockNumber: a.ParentBlockNumber, Timestamp: a.Timestamp,
		PrevRandao: a.PrevRandao, SuggestedFeeRecipient: fee, Withdrawals: a.Withdrawals}
}

// follow imports the execution payload of the node's new head block into the builder's chain.
func (b *wallBuilder) follow(ctx context.Context, obs interface {
	SignedBeaconBlock(context.Context, *api.SignedBeaconBlockOpts) (*api.Response[*spec.VersionedSignedBeaconBlock], error)
}, slot phase0.Slot, root phase0.Root) {
	resp, err := obs.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: fmt.Sprintf("%#x", root)})
	if err != nil || resp.Data == nil || resp.Data.Electra == nil {
		b.t.Logf("builder: block %d: %v", slot, err)
		return
	}
	body := resp.Data.Electra.Message.Body
	p := body.ExecutionPayload
	if err := b.chain.Import(p); errors.Is(err, execution.ErrNotChecked) {
		// The node's local payload: check it against the slot's attributes, then import it.
		b.mu.Lock()
		a := b.attrs[slot][p.ParentHash]
		b.mu.Unlock()
		if a == nil {
			b.t.Logf("builder: no attributes for the block of slot %d", slot)
			return
		}
		if err := b.chain.Check(execAttributes(a, p.FeeRecipient), p, body.ExecutionRequests); err != nil {
			b.t.Logf("builder: check the block of slot %d: %v", slot, err)
			return
		}
		err = b.chain.Import(p)
		if err != nil {
			b.t.Logf("builder: import the block of slot %d: %v", slot, err)
		}
	} else if err != nil {
		b.t.Logf("builder: import the block of slot %d: %v", slot, err)
	}
}

// run bids for the current and the next slot whenever their attributes on the builder's head
// are known, every 10 ms, until ctx ends: once per slot and parent, so that a bid made on the
// previous head before the slot's parent arrived is followed by one on the new head.
func (b *wallBuilder) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := b.p.node.CurrentSlot()
		for _, slot := range []phase0.Slot{cur, cur + 1} {
			if !b.bid(slot) || time.Now().After(b.p.slotStart(slot)) {
				continue
			}
			head, _ := b.chain.Head()
			b.mu.Lock()
			a := b.attrs[slot][head]
			_, done := b.bids[slot][head]
			b.mu.Unlock()
			if a == nil || done {
				continue
			}
			hash, err := b.submit(a)
			b.mu.Lock()
			if err != nil {
				b.lastErr[slot] = err.Error()
			} else {
				if b.bids[slot] == nil {
					b.bids[slot] = map[phase0.Hash32]phase0.Hash32{}
				}
				b.bids[slot][head] = hash
			}
			b.mu.Unlock()
		}
	}
}

// submit builds a payload with one transaction for a's slot, paying the proposer's registered
// fee recipient, and posts the signed submission to the relay (SSZ).
func (b *wallBuilder) submit(a *mev.Attributes) (phase0.Hash32, error) {
	p, reqs, err := b.chain.Build(execAttributes(a, proposerFee), []bellatrix.Transaction{{0x02, 0xb1, byte(a.Slot)}}, 21_000,
		uint256.NewInt(1_000_000_000+uint64(a.Slot)))
	if err != nil {
		return phase0.Hash32{}, err
	}
	trace := &builderapiv1.BidTrace{Slot: uint64(a.Slot), ParentHash: p.ParentHash, BlockHash: p.BlockHash,
		BuilderPubkey: phase0.BLSPubKey(b.sk.PublicKey().Bytes()), ProposerPubkey: b.p.node.Genesis().Validators[a.ProposerIndex].Pubkey,
		ProposerFeeRecipient: proposerFee, GasLimit: p.GasLimit, GasUsed: p.GasUsed, Value: uint256.NewInt(1_000_000_000 + uint64(a.Slot))}
	s := &mev.Submission{Version: spec.DataVersionElectra, Trace: trace, Payload: p, Requests: reqs,
		Bundle: &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}}
	if s.Signature, err = pbs.Sign(b.sk, trace, pbs.BuilderDomain(beacon.GenesisForkVersion)); err != nil {
		return phase0.Hash32{}, err
	}
	body, err := s.Encode(pbs.MediaSSZ)
	if err != nil {
		return phase0.Hash32{}, err
	}
	req, err := http.NewRequest(http.MethodPost, b.p.relayURL+"/relay/v1/builder/blocks", bytes.NewReader(body))
	if err != nil {
		return phase0.Hash32{}, err
	}
	req.Header.Set("Content-Type", pbs.MediaSSZ)
	req.Header.Set("Eth-Consensus-Version", "electra")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return phase0.Hash32{}, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return phase0.Hash32{}, fmt.Errorf("relay: %d %s", resp.StatusCode, msg)
	}
	return p.BlockHash, nil
}

// bidOf is the block hash of the builder's accepted bid for slot on parent, if any.
func (b *wallBuilder) bidOf(slot phase0.Slot, parent phase0.Hash32) (phase0.Hash32, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.bids[slot][parent]
	return h, ok
}

func (b *wallBuilder) errOf(slot phase0.Slot) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr[slot]
}

func (p *pbsNet) slotStart(s phase0.Slot) time.Time {
	return p.node.GenesisTime().Add(time.Duration(s) * p.node.SlotTime())
}

// payloadHash is the execution block hash and parent hash of the chain's block at slot (false:
// no block).
func (p *pbsNet) payloadHash(t *testing.T, slot phase0.Slot) (hash, parent phase0.Hash32, ok bool) {
	t.Helper()
	resp, err := dial(t, p.url).SignedBeaconBlock(context.Background(), &api.SignedBeaconBlockOpts{Block: fmt.Sprint(slot)})
	if err != nil || resp.Data == nil || resp.Data.Electra == nil {
		return phase0.Hash32{}, phase0.Hash32{}, false
	}
	ep := resp.Data.Electra.Message.Body.ExecutionPayload
	return ep.BlockHash, ep.ParentHash, true
}

// delivered is the block hash the relay says it delivered for slot (proposer_payload_delivered).
func (p *pbsNet) delivered(t *testing.T, slot phase0.Slot) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/relay/v1/data/bidtraces/proposer_payload_delivered?slot=%d", p.relayURL, slot))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []mev.TraceJSON
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out) == 0 {
		return ""
	}
	return out[0].BlockHash
}

// proposals are a run's proposal reports by slot.
func proposals(rep *reports) map[phase0.Slot]string {
	out := map[phase0.Slot]string{}
	for _, r := range rep.all() {
		if r.Kind == "proposal" && r.Done > 0 {
			out[r.Slot] = r.Path
		}
	}
	return out
}

// The blinded path on the wall clock, end to end: the validator client proposes through the
// devnet beacon node, whose builder is a zkv boost in front of a zkv relay that holds a builder's
// bid for the odd slots. A bid slot's block is blinded, signed by the client, unblinded by the
// relay (through the boost) and published: the chain has the builder's payload and the relay
// lists the delivery. An even slot, with no bid, is proposed locally.
func TestBlindedPathOnWallClock(t *testing.T) {
	const validators = 16
	bid := func(s phase0.Slot) bool { return s%2 == 1 }
	p := newPBSNet(t, validators, bid)
	var rep reports
	startValidatorWith(t, p.url, p.keyDir, t.TempDir(), &rep, client.WithDoppelganger(0), client.WithShutdownGrace(0),
		client.WithFeeRecipient(proposerFee))

	const end = 7
	waitUntil(t, p.slotStart(end).Add(p.node.SlotTime()/2))
	paths := proposals(&rep)
	failed := map[phase0.Slot]error{}
	for _, r := range rep.all() {
		if r.Kind == "proposal" && r.Done == 0 {
			failed[r.Slot] = r.Err
		}
	}
	builder, local := 0, 0
	for s := phase0.Slot(1); s < end; s++ {
		hash, parent, ok := p.payloadHash(t, s)
		if !ok {
			// A proposal that ran out of time on a loaded machine is no fault of the path's.
			t.Logf("slot %d has no block: the client's proposal failed: %v", s, failed[s])
			if paths[s] != "" {
				t.Errorf("slot %d: the client reported a %s proposal the chain does not have", s, paths[s])
			}
			continue
		}
		bidHash, hasBid := p.builder.bidOf(s, parent)
		switch paths[s] {
		case "builder":
			builder++
			if !hasBid || hash != bidHash {
				t.Errorf("slot %d: blinded proposal, but the chain's payload %#x is not the builder's bid %#x", s, hash, bidHash)
			}
			if got := p.delivered(t, s); got != bidHash.String() {
				t.Errorf("slot %d: the relay lists delivery %q, want %s", s, got, bidHash)
			}
		case "local":
			local++
			if hasBid && hash == bidHash {
				t.Errorf("slot %d: a local proposal carries the builder's payload", s)
			}
			if bid(s) {
				// A bid that reached the relay too late (a loaded machine) is no fault of the
				// client's; say so rather than fail.
				t.Logf("slot %d: bid slot proposed locally (builder: accepted %v, last error %q)", s, hasBid, p.builder.errOf(s))
			}
		default:
			if failed[s] == nil {
				t.Errorf("slot %d: the chain has a block the client did not report", s)
			} else {
				// Published, but the answer came too late for the client (a loaded machine).
				t.Logf("slot %d: the client's proposal reached the chain but reported %v", s, failed[s])
			}
		}
		if !bid(s) && paths[s] == "builder" {
			t.Errorf("slot %d: no bid, yet proposed through the builder", s)
		}
	}
	if builder == 0 || local == 0 {
		t.Errorf("%d blocks through the builder and %d local, want both", builder, local)
	}
	t.Logf("slots 1-%d: %d through the builder, %d local", end-1, builder, local)
}

// metricValue is the value of the series of name whose labels include labels, summed over the
// matching series (0 when none).
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// The validator's metrics against the devnet beacon node: after an epoch and a slot, the
// attestation success counter equals the attestations the node accepted (its own counter), the
// block counter the node's blocks, and the epoch summary's figures are in the metrics; when the
// node's server stops, the node shows as down (and the failed requests as errors); when it comes
// back, as up.
func TestValidatorMetricsOnDevnet(t *testing.T) {
	const validators = 8
	node, _, keyDir := devnet(t, validators)
	slotStart := func(s phase0.Slot) time.Time { return node.GenesisTime().Add(time.Duration(s) * node.SlotTime()) }
	srv := &countingServer{t: t, handler: node.Handler()}
	srv.start("127.0.0.1:0")
	t.Cleanup(srv.stop)
	url := srv.url()

	reg := prometheus.NewRegistry()
	var rep reports
	startValidatorWith(t, url, keyDir, t.TempDir(), &rep, client.WithDoppelganger(0), client.WithShutdownGrace(0),
		client.WithMetrics(reg))

	// Slot 10 (epoch 1's third) at nine tenths: its attestations are in, epoch 0's summary is out.
	spe := phase0.Slot(node.Preset().SlotsPerEpoch)
	waitUntil(t, slotStart(spe+2).Add(node.SlotTime()*9/10))
	attested := metricValue(t, reg, "vc_signed_attestations_total", map[string]string{"status": "success"})
	accepted := metricValue(t, node.Registry(), "zkv_devnet_attestations_accepted_total", nil)
	timedOut := metricValue(t, reg, "vc_signed_attestations_total", map[string]string{"status": "error"})
	// A submission that timed out on the client's side (a loaded machine) may still have reached
	// the node: those are the only difference allowed.
	if attested == 0 || accepted < attested || accepted > attested+timedOut {
		t.Errorf("vc_signed_attestations_total{status=success} = %v (error: %v), the node accepted %v", attested, timedOut, accepted)
	}
	blocks := metricValue(t, reg, "vc_signed_beacon_blocks_total", map[string]string{"status": "success"})
	blockErrs := metricValue(t, reg, "vc_signed_beacon_blocks_total", map[string]string{"status": "error"})
	if nodeBlocks := metricValue(t, node.Registry(), "zkv_devnet_blocks_total", nil); blocks == 0 || nodeBlocks < blocks || nodeBlocks > blocks+blockErrs {
		t.Errorf("vc_signed_beacon_blocks_total{status=success} = %v (error: %v), the node accepted %v blocks", blocks, blockErrs, nodeBlocks)
	}
	// The summary's figures, from the duty reports of epoch 0: every attestation (one per
	// validator), and the aggregates' and contributions' failures as their misses.
	done, failed := map[string]float64{}, map[string]float64{}
	for _, r := range rep.all() {
		if r.Slot < spe {
			done[r.Kind] += float64(r.Done)
			failed[r.Kind] += float64(r.Failed)
		}
	}
	if done["attestation"] == 0 {
		t.Error("epoch 0: no attestation reported")
	}
	for _, kind := range []string{"attestation", "aggregate", "contribution", "sync_message"} {
		if got := metricValue(t, reg, "zkv_validator_epoch_duties_total", map[string]string{"duty": kind, "result": "done"}); got != done[kind] {
			t.Errorf("epoch 0's summary in the metrics: %v %s done, the reports say %v", got, kind, done[kind])
		}
	}
	for _, kind := range []string{"aggregate", "contribution"} {
		if got := metricValue(t, reg, "zkv_validator_epoch_duties_total", map[string]string{"duty": kind, "result": "missed"}); got != failed[kind] {
			t.Errorf("epoch 0's summary in the metrics: %v %s missed, the reports say %v failed", got, kind, failed[kind])
		}
	}
	if got := metricValue(t, reg, "zkv_validator_blocks_proposed_total", map[string]string{"path": "local"}); got != done["proposal"] || got == 0 {
		t.Errorf("epoch 0's summary: %v local blocks, the reports say %v", got, done["proposal"])
	}
	waitMetric := func(name string, labels map[string]string, want float64) {
		t.Helper()
		deadline := time.Now().Add(3 * node.SlotTime())
		for metricValue(t, reg, name, labels) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s%v = %v, want %v", name, labels, metricValue(t, reg, name, labels), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for name, want := range map[string]float64{"vc_beacon_nodes_available_count": 1, "vc_beacon_nodes_synced_count": 1,
		"zkv_validator_beacon_node_primary_in_use": 1, "vc_validators_total_count": validators} {
		waitMetric(name, nil, want)
	}
	if got := metricValue(t, reg, "zkv_validator_validators", map[string]string{"status": "active_ongoing"}); got != validators {
		t.Errorf("zkv_validator_validators{status=active_ongoing} = %v, want %d", got, validators)
	}

	// The node's server stops: within a slot and a half the node is down, and a slot's
	// requests failed.
	srv.stop()
	up := map[string]string{"beacon_node": url}
	waitMetric("zkv_validator_beacon_node_up", up, 0)
	waitMetric("vc_beacon_nodes_available_count", nil, 0)
	waitMetric("zkv_validator_beacon_node_primary_in_use", nil, 0)
	down := node.CurrentSlot()
	waitUntil(t, slotStart(down+2))
	if got := metricValue(t, reg, "zkv_validator_beacon_node_requests_total", map[string]string{"beacon_node": url, "result": "error"}); got == 0 {
		t.Error("no failed request counted while the node was down")
	}
	srv.start(srv.addr)
	waitMetric("zkv_validator_beacon_node_up", up, 1)
	waitMetric("vc_beacon_nodes_synced_count", nil, 1)
}

// The builder circuit breaker on the devnet beacon node. Client A holds 4 of the 16 validators,
// so most slots have no block; a builder bids on every slot A proposes in, through the relay and
// the boost. Once too many slots are missed (3 in a row, or 6 of the last 8: the defaults), A's
// proposals are local although a bid is there. Then client B starts with the other 12: every
// slot has a block again, the breaker closes, and A proposes through the builder again. Each of
// A's proposals is checked against the breaker's rule applied to the chain itself, and the trip
// and the reset show in A's metrics.
func TestBuilderCircuitBreakerOnDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet for about four epochs")
	}
	const validators, ownA = 16, 4
	p := newPBSNet(t, validators, func(phase0.Slot) bool { return true })
	spe := phase0.Slot(p.node.Preset().SlotsPerEpoch)
	regA := prometheus.NewRegistry()
	var repA, repB reports
	startValidatorWith(t, p.url, keySubset(t, p.keyDir, 0, ownA), t.TempDir(), &repA, client.WithDoppelganger(0),
		client.WithShutdownGrace(0), client.WithFeeRecipient(proposerFee), client.WithMetrics(regA))

	obs := dial(t, p.url)
	hasBlock := map[phase0.Slot]bool{}
	blockAt := func(s phase0.Slot) bool {
		if b, ok := hasBlock[s]; ok {
			return b
		}
		h, err := obs.BeaconBlockHeader(context.Background(), &api.BeaconBlockHeaderOpts{Block: fmt.Sprint(s)})
		hasBlock[s] = err == nil && h.Data != nil && h.Data.Header.Message.Slot == s
		return hasBlock[s]
	}
	// openByChain applies the breaker's default rule to the chain's blocks before slot.
	def := client.DefaultBreakerConfig
	openByChain := func(slot phase0.Slot) bool {
		inARow, missed, run := 0, 0, true
		for s := slot - 1; s >= 1 && s+spe >= slot; s-- {
			if blockAt(s) {
				run = false
				continue
			}
			missed++
			if run {
				inARow++
			}
		}
		return inARow >= def.Consecutive || missed >= def.PerEpoch
	}
	// check goes through A's proposals so far; it returns the slots proposed locally while the
	// breaker was open and a bid was there, and those proposed through the builder.
	check := func(after phase0.Slot) (localOpen, builder []phase0.Slot) {
		for s, path := range proposals(&repA) {
			if s <= after {
				continue
			}
			hash, parent, ok := p.payloadHash(t, s)
			if !ok {
				t.Errorf("slot %d: A reported a proposal, the chain has no block", s)
				continue
			}
			bidHash, hasBid := p.builder.bidOf(s, parent)
			switch {
			case openByChain(s) && path != "local":
				t.Errorf("slot %d: the chain missed too many slots, yet A proposed through the %s", s, path)
			case openByChain(s) && hasBid:
				localOpen = append(localOpen, s)
			case path == "builder":
				if !hasBid || hash != bidHash {
					t.Errorf("slot %d: builder proposal without the builder's payload", s)
				}
				builder = append(builder, s)
			}
		}
		return localOpen, builder
	}

	// Phase 1: until A has proposed locally with the breaker open and a bid at hand.
	var heal phase0.Slot
	for s := phase0.Slot(2); ; s++ {
		waitUntil(t, p.slotStart(s).Add(p.node.SlotTime()/2))
		if lo, _ := check(0); len(lo) > 0 {
			heal = s
			t.Logf("A proposed locally in slots %v while the breaker was open", lo)
			break
		}
		if s > 4*spe {
			t.Fatalf("by slot %d A made no local proposal with the breaker open: proposals %v", s, proposals(&repA))
		}
	}
	if got := metricValue(t, regA, "zkv_validator_builder_circuit_breaker_transitions_total", map[string]string{"state": "open"}); got == 0 {
		t.Error("the breaker's trip is not in the metrics")
	}

	// Phase 2: B brings the other validators; A's next proposals go through the builder.
	startValidatorWith(t, p.url, keySubset(t, p.keyDir, ownA, validators), t.TempDir(), &repB, client.WithDoppelganger(0),
		client.WithShutdownGrace(0), client.WithFeeRecipient(proposerFee))
	for s := heal + 1; ; s++ {
		waitUntil(t, p.slotStart(s).Add(p.node.SlotTime()/2))
		if _, b := check(heal + spe/2); len(b) > 0 {
			t.Logf("B joined in slot %d; A proposed through the builder again in slots %v", heal, b)
			break
		}
		if s > heal+5*spe {
			t.Fatalf("by slot %d A made no builder proposal after B joined in slot %d: proposals %v", s, heal, proposals(&repA))
		}
	}
	if got := metricValue(t, regA, "zkv_validator_builder_circuit_breaker_transitions_total", map[string]string{"state": "closed"}); got == 0 {
		t.Error("the breaker's reset is not in the metrics")
	}
	if got := metricValue(t, regA, "zkv_validator_builder_circuit_breaker_open", nil); got != 0 {
		t.Errorf("breaker gauge %v after the chain healed", got)
	}
	check(0)
}
