package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	builderclient "github.com/attestantio/go-builder-client"
	builderapi "github.com/attestantio/go-builder-client/api"
	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderhttp "github.com/attestantio/go-builder-client/http"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// clock is a settable time source shared by the node, the relay and the builder.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var genesisTime = time.Unix(1_800_000_000, 0)

const validators = 16

// harness is a devnet beacon node with the relay as its builder, a relay on a badger
// directory, and a test builder that follows the node's payload attributes.
type harness struct {
	t        testing.TB
	ctx      context.Context
	clock    *clock
	node     *beacon.Node
	nodeURL  string
	signer   *beacontest.Signer
	relaySK  *bls.SecretKey
	relayPK  phase0.BLSPubKey
	dbDir    string
	relayURL string // with the relay's pubkey, as proposers pin it
	relay    *mev.Relay
	stop     func() // stops the relay and closes its database
	builder  *builder
	log      *slog.Logger
	// relays are every in-process relay, which at waits for too.
	relays []*mev.Relay
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("ZKV_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newHarness(t testing.TB) *harness { return newHarnessWith(t, nil, true) }

// newHarnessWith starts the relay with startRelay, or, when given, with start (which takes over
// the listener: it serves the node's builder there, or closes it and runs a relay elsewhere).
// pin names the relay's key in the node's builder URL.
func newHarnessWith(t testing.TB, start func(h *harness, ln net.Listener), pin bool) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, clock: &clock{now: genesisTime}, dbDir: t.TempDir(), log: testLogger(t)}
	var err error
	if h.relaySK, err = bls.GenerateSecretKey(); err != nil {
		t.Fatal(err)
	}
	h.relayPK = phase0.BLSPubKey(h.relaySK.PublicKey().Bytes())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.relayURL = fmt.Sprintf("http://%#x@%s", h.relayPK[:], ln.Addr())
	builderURL := h.relayURL
	if !pin {
		builderURL = "http://" + ln.Addr().String()
	}
	h.node, err = beacon.New(ctx, beacon.Config{Validators: validators, GenesisTime: genesisTime, SlotTime: 2 * time.Second,
		Now: h.clock.Now, BuilderURL: builderURL, Logger: h.log.With("part", "node")})
	if err != nil {
		t.Fatalf("beacon node: %v", err)
	}
	srv := httptest.NewServer(h.node.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(cancel) // before the server closes: event streams end with the context
	h.nodeURL = srv.URL
	c, err := beacontest.Dial(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[phase0.ValidatorIndex]*bls.SecretKey{}
	for i, sk := range h.node.Genesis().Secrets {
		secrets[phase0.ValidatorIndex(i)] = sk
	}
	if h.signer, err = beacontest.New(ctx, c, secrets); err != nil {
		t.Fatal(err)
	}
	if start == nil {
		h.startRelay(ln)
		t.Cleanup(func() { h.stop() })
	} else {
		start(h, ln)
	}
	h.builder = newBuilder(t, ctx, h)
	return h
}

// startRelay opens the badger directory and runs a relay on ln until stop.
func (h *harness) startRelay(ln net.Listener) {
	h.relay, h.stop = h.runRelay(h.dbDir, h.relaySK, ln)
}

// runRelay runs a relay with its own database directory and key on ln; stop ends it.
func (h *harness) runRelay(dir string, sk *bls.SecretKey, ln net.Listener) (*mev.Relay, func()) {
	t := h.t
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		t.Fatalf("open relay db: %v", err)
	}
	bc, err := mev.NewBeaconClient(h.ctx, []string{h.nodeURL}, h.log)
	if err != nil {
		t.Fatal(err)
	}
	r, err := mev.New(h.ctx, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(d), Now: h.clock.Now,
		BlockHasher: execution.BlockHash, Logger: h.log.With("part", "relay"), Registerer: prometheus.NewRegistry()})
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
	stop := func() {
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
	return r, stop
}

// restartRelay stops the relay and starts a new one on the same address and directory.
func (h *harness) restartRelay() {
	addr := h.relayAddr()
	h.stop()
	h.relays = slices.DeleteFunc(h.relays, func(r *mev.Relay) bool { return r == h.relay })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		h.t.Fatalf("listen again on %s: %v", addr, err)
	}
	h.startRelay(ln)
}

func (h *harness) relayAddr() string {
	u := h.relayURL
	return u[len("http://")+2+96+1:]
}

func (h *harness) plainRelayURL() string { return "http://" + h.relayAddr() }

// at moves the clock to a point inside slot and has the node notice (it announces the slot's
// payload attributes), then waits until the builder has the attributes of slot.
func (h *harness) at(slot phase0.Slot, frac float64) *mev.Attributes {
	h.t.Helper()
	st := 2 * time.Second
	h.clock.Set(genesisTime.Add(time.Duration(slot)*st + time.Duration(frac*float64(st))))
	resp, err := http.Get(h.nodeURL + "/eth/v1/beacon/headers/head")
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	a := h.builder.waitAttributes(slot)
	// The relays read the same event on streams of their own: wait until each has it.
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range h.relays {
		for {
			if _, ok := r.Attributes(slot, a.ParentBlockHash); ok {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("relay has no payload attributes for slot %d", slot)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return a
}

// proposer returns the proposer duty of slot.
func (h *harness) proposer(slot phase0.Slot) (phase0.ValidatorIndex, phase0.BLSPubKey) {
	h.t.Helper()
	ds, err := beaconClient(h.t, h.ctx, h.nodeURL).ProposerDuties(h.ctx, phase0.Epoch(uint64(slot)/8))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, d := range ds {
		if d.Slot == slot {
			return d.ValidatorIndex, d.PubKey
		}
	}
	h.t.Fatalf("no duty for slot %d", slot)
	return 0, phase0.BLSPubKey{}
}

func feeRecipient(i phase0.ValidatorIndex) bellatrix.ExecutionAddress {
	return bellatrix.ExecutionAddress{0xfe, byte(i)}
}

// registrations signs a registration for every validator (builder domain, devnet genesis fork).
func (h *harness) registrations(ts time.Time) []*builderapiv1.SignedValidatorRegistration {
	h.t.Helper()
	domain := pbs.BuilderDomain(beacon.GenesisForkVersion)
	var out []*builderapiv1.SignedValidatorRegistration
	for i, v := range h.node.Genesis().Validators {
		m := &builderapiv1.ValidatorRegistration{FeeRecipient: feeRecipient(phase0.ValidatorIndex(i)), GasLimit: 36_000_000, Timestamp: ts, Pubkey: v.Pubkey}
		sig, err := pbs.Sign(h.node.Genesis().Secrets[i], m, domain)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, &builderapiv1.SignedValidatorRegistration{Message: m, Signature: sig})
	}
	return out
}

// registerThroughNode registers every validator with the node, which forwards to the relay as
// a beacon node with a builder does.
func (h *harness) registerThroughNode() {
	h.t.Helper()
	h.registerWithNode()
	// The node forwards before it answers: the relay has them now.
	resp2, err := http.Get(h.plainRelayURL() + "/relay/v1/data/validator_registration?pubkey=" + h.node.Genesis().Validators[0].Pubkey.String())
	if err != nil {
		h.t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		h.t.Fatalf("relay did not receive the forwarded registrations: %d", resp2.StatusCode)
	}
}

// registerWithNode registers every validator with the node.
func (h *harness) registerWithNode() {
	h.t.Helper()
	body, err := json.Marshal(h.registrations(h.clock.Now()))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.Post(h.nodeURL+"/eth/v1/validator/register_validator", "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("register_validator: %d %s", resp.StatusCode, msg)
	}
}

// builderClient is go-builder-client's HTTP client on the relay.
func (h *harness) builderClient() builderclient.Service {
	h.t.Helper()
	svc, err := builderhttp.New(h.ctx, builderhttp.WithAddress(h.relayURL), builderhttp.WithLogLevel(zerolog.Disabled), builderhttp.WithTimeout(5*time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

func (h *harness) getHeader(slot phase0.Slot, parent phase0.Hash32, pk phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, error) {
	res, err := h.builderClient().(builderclient.BuilderBidProvider).BuilderBid(h.ctx, &builderapi.BuilderBidOpts{Slot: slot, ParentHash: parent, PubKey: pk})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// builder is a test block builder: it follows the node's payload attributes, builds payloads on
// its own copy of the execution chain and submits them to the relay.
type builder struct {
	t     testing.TB
	h     *harness
	sk    *bls.SecretKey
	pk    phase0.BLSPubKey
	chain *execution.Chain
	// txBytes, when set, fills payloads with about this many bytes of transactions.
	txBytes int

	mu    sync.Mutex
	cond  *sync.Cond
	attrs map[phase0.Slot]map[phase0.Hash32]*mev.Attributes
}

func newBuilder(t testing.TB, ctx context.Context, h *harness) *builder {
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := execution.NewChain(execution.Config{GenesisTime: uint64(genesisTime.Unix()), ChainID: beacon.DevnetChainID})
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{t: t, h: h, sk: sk, pk: phase0.BLSPubKey(sk.PublicKey().Bytes()), chain: chain, attrs: map[phase0.Slot]map[phase0.Hash32]*mev.Attributes{}}
	b.cond = sync.NewCond(&b.mu)
	bc := beaconClient(t, ctx, h.nodeURL)
	connected := make(chan struct{})
	var once sync.Once
	go func() {
		_ = bc.Follow(ctx, mev.Events{
			Connected: func(string) { once.Do(func() { close(connected) }) },
			PayloadAttributes: func(a *mev.Attributes) {
				b.mu.Lock()
				if b.attrs[a.Slot] == nil {
					b.attrs[a.Slot] = map[phase0.Hash32]*mev.Attributes{}
				}
				b.attrs[a.Slot][a.ParentBlockHash] = a
				b.cond.Broadcast()
				b.mu.Unlock()
			},
		})
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("builder did not connect to the node's events")
	}
	return b
}

// waitAttributes waits for the payload attributes of slot on the builder's head.
func (b *builder) waitAttributes(slot phase0.Slot) *mev.Attributes {
	b.t.Helper()
	deadline := time.AfterFunc(10*time.Second, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	defer deadline.Stop()
	start := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	head, _ := b.chain.Head()
	for b.attrs[slot][head] == nil {
		if time.Since(start) > 9*time.Second {
			b.t.Fatalf("no payload attributes for slot %d on %#x", slot, head)
		}
		b.cond.Wait()
	}
	return b.attrs[slot][head]
}

// build makes a payload on a for the slot's proposer (one opaque transaction, so that the bid
// is not an empty block, which mev-boost ignores) and its signed submission of value wei.
func (b *builder) build(a *mev.Attributes, proposer phase0.BLSPubKey, fee bellatrix.ExecutionAddress, value uint64, tag byte) *mev.Submission {
	b.t.Helper()
	ea := execution.Attributes{Slot: a.Slot, ProposerIndex: a.ProposerIndex, ParentBlockRoot: a.ParentBeaconBlockRoot,
		ParentBlockHash: a.ParentBlockHash, ParentBlockNumber: a.ParentBlockNumber, Timestamp: a.Timestamp,
		PrevRandao: a.PrevRandao, SuggestedFeeRecipient: fee, Withdrawals: a.Withdrawals}
	txs := []bellatrix.Transaction{{0x02, 0xc1, tag}}
	if b.txBytes > 0 {
		// Transactions of 3,500 bytes up to txBytes in all (benchmarks' realistic sizes).
		txs = nil
		for n := 0; n < b.txBytes; n += 3500 {
			tx := make(bellatrix.Transaction, 3500)
			tx[0], tx[1], tx[2] = 0x02, tag, byte(n/3500)
			txs = append(txs, tx)
		}
	}
	p, reqs, err := b.chain.Build(ea, txs, 21_000*uint64(len(txs)), uint256.NewInt(value))
	if err != nil {
		b.t.Fatalf("build: %v", err)
	}
	trace := &builderapiv1.BidTrace{Slot: uint64(a.Slot), ParentHash: p.ParentHash, BlockHash: p.BlockHash, BuilderPubkey: b.pk,
		ProposerPubkey: proposer, ProposerFeeRecipient: fee, GasLimit: p.GasLimit, GasUsed: p.GasUsed, Value: uint256.NewInt(value)}
	s := &mev.Submission{Version: spec.DataVersionElectra, Trace: trace, Payload: p, Requests: reqs,
		Bundle: &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}}
	b.resign(s)
	return s
}

// resign signs s's trace again (after a test changed it).
func (b *builder) resign(s *mev.Submission) {
	b.t.Helper()
	sig, err := pbs.Sign(b.sk, s.Trace, pbs.BuilderDomain(beacon.GenesisForkVersion))
	if err != nil {
		b.t.Fatal(err)
	}
	s.Signature = sig
}

// post submits s over HTTP in media, optionally gzipped, and returns the status and body.
func (b *builder) post(s *mev.Submission, media string, query string, mod func(*http.Request)) (int, string) {
	b.t.Helper()
	body, err := s.Encode(media)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.postRaw(body, media, query, mod)
}

func (b *builder) postRaw(body []byte, media, query string, mod func(*http.Request)) (int, string) {
	b.t.Helper()
	return b.postTo(b.h.plainRelayURL(), body, media, query, mod)
}

// postTo submits a body to the relay at base.
func (b *builder) postTo(base string, body []byte, media, query string, mod func(*http.Request)) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/relay/v1/builder/blocks"+query, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", media)
	req.Header.Set("Eth-Consensus-Version", "electra")
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// imported tells the builder's chain that the node imported p.
func (b *builder) imported(s *mev.Submission) {
	b.t.Helper()
	if err := b.chain.Import(s.Payload); err != nil {
		b.t.Fatalf("builder chain import: %v", err)
	}
}

// headSlot is the node's head block's slot.
func (h *harness) headSlot() phase0.Slot {
	h.t.Helper()
	resp, err := http.Get(h.nodeURL + "/eth/v1/beacon/headers/head")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Header struct {
				Message struct {
					Slot string `json:"slot"`
				} `json:"message"`
			} `json:"header"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		h.t.Fatal(err)
	}
	var s uint64
	fmt.Sscan(out.Data.Header.Message.Slot, &s)
	return phase0.Slot(s)
}

func beaconClient(t testing.TB, ctx context.Context, url string) *mev.BeaconClient {
	t.Helper()
	bc, err := mev.NewBeaconClient(ctx, []string{url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bc
}

// blindedProposal asks the node for slot's block (produceBlockV3: the node fetches the relay's
// header) and signs it as the slot's proposer. graffiti makes two different blocks for a slot.
func (h *harness) blindedProposal(slot phase0.Slot, graffiti byte) *api.VersionedSignedBlindedProposal {
	h.t.Helper()
	idx, _ := h.proposer(slot)
	sk := h.node.Genesis().Secrets[idx]
	gvr := h.node.GenesisValidatorsRoot()
	randao, err := pbs.ComputeDomain(phase0.DomainType{0x02, 0, 0, 0}, beacon.ElectraForkVersion, gvr)
	if err != nil {
		h.t.Fatal(err)
	}
	var epochRoot phase0.Root
	binary.LittleEndian.PutUint64(epochRoot[:], uint64(slot)/8)
	sr, _ := (&phase0.SigningData{ObjectRoot: epochRoot, Domain: randao}).HashTreeRoot()
	reveal := phase0.BLSSignature(sk.Sign(sr[:]).Bytes())
	resp, err := h.signer.Client.Proposal(h.ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal, Graffiti: [32]byte{graffiti}})
	if err != nil {
		h.t.Fatalf("produce block: %v", err)
	}
	p := resp.Data
	if !p.Blinded || p.ElectraBlinded == nil {
		h.t.Fatalf("slot %d: the node did not take the relay's bid", slot)
	}
	d, _ := pbs.ComputeDomain(pbs.DomainBeaconProposer, beacon.ElectraForkVersion, gvr)
	sig, err := pbs.Sign(sk, p.ElectraBlinded, d)
	if err != nil {
		h.t.Fatal(err)
	}
	return &api.VersionedSignedBlindedProposal{Version: spec.DataVersionElectra,
		Electra: &apiv1electra.SignedBlindedBeaconBlock{Message: p.ElectraBlinded, Signature: sig}}
}

// unblind sends a signed blinded block to the relay with go-builder-client (v1).
func (h *harness) unblind(p *api.VersionedSignedBlindedProposal, jsonOnly bool) (*api.VersionedSignedProposal, error) {
	svc, err := builderhttp.New(h.ctx, builderhttp.WithAddress(h.relayURL), builderhttp.WithLogLevel(zerolog.Disabled),
		builderhttp.WithTimeout(5*time.Second), builderhttp.WithEnforceJSON(jsonOnly))
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := svc.(builderclient.UnblindedProposalProvider).UnblindProposal(h.ctx, &builderapi.UnblindProposalOpts{Proposal: p})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// postBlinded posts a signed blinded block as JSON to a blinded_blocks endpoint of the relay.
func (h *harness) postBlinded(path string, p *api.VersionedSignedBlindedProposal) (int, string) {
	h.t.Helper()
	return h.postBlindedTo(h.plainRelayURL(), path, p)
}

// postBlindedTo posts a signed blinded block to the builder API at base.
func (h *harness) postBlindedTo(base, path string, p *api.VersionedSignedBlindedProposal) (int, string) {
	h.t.Helper()
	body, err := json.Marshal(p.Electra)
	if err != nil {
		h.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Eth-Consensus-Version", "electra")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// bidFor has the builder bid value for slot (registrations must be in place) and returns the
// submission after the relay accepted it.
func (h *harness) bidFor(slot phase0.Slot, value uint64, tag byte) *mev.Submission {
	h.t.Helper()
	a := h.at(slot, 0)
	idx, pk := h.proposer(slot)
	s := h.builder.build(a, pk, feeRecipient(idx), value, tag)
	// A relay in another process may read the payload attributes a moment after the builder.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		code, msg := h.builder.post(s, pbs.MediaSSZ, "", nil)
		if code == http.StatusOK {
			return s
		}
		if !strings.Contains(msg, "no payload attributes known") || time.Now().After(deadline) {
			h.t.Fatalf("slot %d: submission: %d %s", slot, code, msg)
		}
	}
}
