package beacontest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	builderapideneb "github.com/attestantio/go-builder-client/api/deneb"
	builderapielectra "github.com/attestantio/go-builder-client/api/electra"
	builderapifulu "github.com/attestantio/go-builder-client/api/fulu"
	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/pbs"
)

// domainApplicationBuilder is DOMAIN_APPLICATION_BUILDER (builder-specs, bellatrix builder.md):
// registrations and bids are signed under compute_domain(0x00000001, GENESIS_FORK_VERSION, zero
// genesis validators root).
var domainApplicationBuilder = phase0.DomainType{0x00, 0x00, 0x00, 0x01}

// maxRegistrationSkew is how far ahead of the builder's clock a registration may be stamped
// (mev-boost-relay refuses registrations more than 10 s in the future).
const maxRegistrationSkew = 10 * time.Second

// maxBuilderBody bounds a request body: 1,000 registrations or one signed blinded block fit.
const maxBuilderBody = 4 << 20

// keptSlots is how many slots of attributes, bids and deliveries the builder remembers.
const keptSlots = 64

// BuilderMode is how the test builder behaves; every mode but BuilderHonest is a fault a beacon
// node must survive.
type BuilderMode int

const (
	// BuilderHonest bids on every slot it has attributes for and reveals the payload it bid.
	BuilderHonest BuilderMode = iota
	// BuilderNoBid answers every getHeader with 204 (no bid).
	BuilderNoBid
	// BuilderBadSignature signs its bids with a key other than the one the bid names.
	BuilderBadSignature
	// BuilderWrongParent bids a (well signed) header built on another parent than the one asked.
	BuilderWrongParent
	// BuilderPayloadMismatch bids honestly but reveals a payload that is not the header's.
	BuilderPayloadMismatch
)

// String names the mode.
func (m BuilderMode) String() string {
	switch m {
	case BuilderHonest:
		return "honest"
	case BuilderNoBid:
		return "no bid"
	case BuilderBadSignature:
		return "bad signature"
	case BuilderWrongParent:
		return "wrong parent"
	case BuilderPayloadMismatch:
		return "payload mismatch"
	}
	return "BuilderMode(" + strconv.Itoa(int(m)) + ")"
}

// BuilderConfig sets up a test builder. The zero value works.
type BuilderConfig struct {
	// Secret is the builder's BLS key; nil generates one.
	Secret *bls.SecretKey
	// Value is what each bid pays the proposer, in wei; nil means 0.1 ETH.
	Value *uint256.Int
	// Now is the builder's clock (registration timestamps are checked against it); default
	// time.Now. Tests on a fake beacon clock pass the same clock.
	Now func() time.Time
	// AttributesWait bounds how long getHeader waits for the payload_attributes event of the slot
	// asked when it has not arrived yet; default 500 ms. Past it the builder has no bid (204).
	AttributesWait time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// BuilderCounts are the requests a Builder served, for tests.
type BuilderCounts struct {
	// Headers is getHeader requests answered (with a bid or 204); Bids those answered with a bid.
	Headers, Bids int
	// Payloads is payloads revealed; PayloadsRefused reveal requests refused.
	Payloads, PayloadsRefused int
	// Registrations is validator registrations accepted; RegistrationsRefused requests refused.
	Registrations, RegistrationsRefused int
	// Status is status requests.
	Status int
	// Attributes is payload_attributes events received from the beacon node.
	Attributes int
}

// bidRecord is a bid the builder signed: it reveals the payload only to a block that carries
// exactly this header, signed by the proposer the bid was asked for.
type bidRecord struct {
	slot     phase0.Slot
	version  spec.DataVersion
	proposer phase0.BLSPubKey
	header   phase0.Root // hash_tree_root of the header
	payload  *deneb.ExecutionPayload
}

type attrKey struct {
	slot   phase0.Slot
	parent phase0.Hash32
}

type attrRec struct {
	attrs   execution.Attributes
	version spec.DataVersion
}

// eth2Service is what the builder asks of the beacon node through go-eth2-client.
type eth2Service interface {
	eth2client.GenesisProvider
	eth2client.DomainProvider
	eth2client.SignedBeaconBlockProvider
	eth2client.DepositContractProvider
}

// Builder is a builder-API server for tests: a minimal relay and block builder in one, on
// 127.0.0.1, that a beacon node's BuilderURL can point at. It serves
//
//	POST /eth/v1/builder/validators                              registrations (builder domain)
//	GET  /eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}     a signed bid, or 204
//	POST /eth/v1/builder/blinded_blocks                          the payload of a bid it signed
//	GET  /eth/v1/builder/status                                  200
//
// It learns each slot's payload attributes from the beacon node's payload_attributes events and
// builds its payloads with package execution on an execution chain of its own, which it keeps at
// the beacon node's head by reading the head's blocks through the Beacon API. Payloads pay the
// proposer's registered fee recipient; the bid's value is BuilderConfig.Value (SetValue).
//
// It is a test helper: it holds no mempool, checks what a relay checks of what it is sent (a
// registration's signature and timestamp, a blinded block's header and proposer signature, one
// payload per slot) but not that the pubkey asking for a header is the slot's proposer.
type Builder struct {
	cfg    BuilderConfig
	log    *slog.Logger
	sk     *bls.SecretKey
	pubkey phase0.BLSPubKey
	srv    *httptest.Server

	// Set by Connect.
	eth2   eth2Service
	domain phase0.Domain // DOMAIN_APPLICATION_BUILDER
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// chainMu serialises the execution chain's catch-up and builds (they fetch from the node).
	chainMu sync.Mutex
	chain   *execution.Chain

	mu        sync.Mutex
	mode      BuilderMode
	delay     time.Duration
	value     *uint256.Int
	counts    BuilderCounts
	regs      map[phase0.BLSPubKey]*apiv1.SignedValidatorRegistration
	attrs     map[attrKey]attrRec
	attrsNew  chan struct{} // closed and replaced when attributes arrive
	bids      map[phase0.Slot][]*bidRecord
	delivered map[phase0.Slot]phase0.Hash32
	connected bool
	closed    bool
}

// NewBuilder starts a builder's HTTP server on 127.0.0.1 (port 0). It serves registrations and
// status at once; it bids and reveals once Connect has linked it to a beacon node. Close stops it.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	if cfg.Secret == nil {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, fmt.Errorf("builder key: %w", err)
		}
		cfg.Secret = sk
	}
	if cfg.Value == nil {
		cfg.Value = uint256.NewInt(100_000_000_000_000_000) // 0.1 ETH
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AttributesWait == 0 {
		cfg.AttributesWait = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Builder{
		cfg: cfg, log: cfg.Logger.With("component", "test-builder"), sk: cfg.Secret,
		pubkey: phase0.BLSPubKey(cfg.Secret.PublicKey().Bytes()),
		value:  new(uint256.Int).Set(cfg.Value),
		regs:   map[phase0.BLSPubKey]*apiv1.SignedValidatorRegistration{}, attrs: map[attrKey]attrRec{},
		attrsNew: make(chan struct{}), bids: map[phase0.Slot][]*bidRecord{}, delivered: map[phase0.Slot]phase0.Hash32{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /eth/v1/builder/validators", b.postValidators)
	mux.HandleFunc("GET /eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}", b.getHeader)
	mux.HandleFunc("POST /eth/v1/builder/blinded_blocks", b.postBlindedBlock)
	mux.HandleFunc("GET /eth/v1/builder/status", b.getStatus)
	b.srv = httptest.NewServer(mux) // 127.0.0.1, port 0
	return b, nil
}

// URL is the builder-API endpoint, for a beacon node's BuilderURL.
func (b *Builder) URL() string { return b.srv.URL }

// Pubkey is the builder's BLS public key (the one its bids name).
func (b *Builder) Pubkey() phase0.BLSPubKey { return b.pubkey }

// SetMode changes how the builder behaves from the next request on.
func (b *Builder) SetMode(m BuilderMode) {
	b.mu.Lock()
	b.mode = m
	b.mu.Unlock()
}

// SetDelay makes getHeader answer only after d (or when the caller gives up): a slow builder.
func (b *Builder) SetDelay(d time.Duration) {
	b.mu.Lock()
	b.delay = d
	b.mu.Unlock()
}

// SetValue changes what the next bids pay, in wei.
func (b *Builder) SetValue(v *uint256.Int) {
	b.mu.Lock()
	b.value = new(uint256.Int).Set(v)
	b.mu.Unlock()
}

// Counts returns the requests served so far.
func (b *Builder) Counts() BuilderCounts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts
}

// Registration returns the registration the builder holds for pubkey.
func (b *Builder) Registration(pubkey phase0.BLSPubKey) (*apiv1.SignedValidatorRegistration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.regs[pubkey]
	return r, ok
}

// BidPayload returns the payload of the last bid the builder signed for slot.
func (b *Builder) BidPayload(slot phase0.Slot) (*deneb.ExecutionPayload, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	recs := b.bids[slot]
	if len(recs) == 0 {
		return nil, false
	}
	return recs[len(recs)-1].payload, true
}

// Connect links the builder to the beacon node at beaconURL: it reads the genesis (the builder
// domain, the execution genesis, checked against the node's genesis block) and subscribes to the
// node's payload_attributes events. When it returns nil the subscription is live: every event the
// node publishes from then on reaches the builder. The subscription lives until ctx ends, Close,
// or the node ends the stream (the builder does not reconnect: it is meant to outlive no node).
//
// It reads the event stream itself rather than through go-eth2-client's Events, which subscribes
// in the background a second later and cannot say when it is listening: a test would have to
// sleep, and an event published meanwhile would be lost.
func (b *Builder) Connect(ctx context.Context, beaconURL string) error {
	b.mu.Lock()
	if b.connected || b.closed {
		b.mu.Unlock()
		return errors.New("builder already connected or closed")
	}
	b.connected = true
	b.mu.Unlock()
	runCtx, cancel := context.WithCancel(ctx)
	svc, err := eth2http.New(runCtx, eth2http.WithAddress(beaconURL), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		cancel()
		return fmt.Errorf("beacon client: %w", err)
	}
	c, ok := svc.(eth2Service)
	if !ok {
		cancel()
		return errors.New("go-eth2-client service lacks a provider the builder needs")
	}
	// Subscribe first, so that no event published while the builder reads the genesis is lost, and
	// before returning: the node registers the subscriber before it answers 200.
	req, err := http.NewRequestWithContext(runCtx, http.MethodGet, strings.TrimSuffix(beaconURL, "/")+"/eth/v1/events?topics=payload_attributes", nil)
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return fmt.Errorf("event stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		cancel()
		return fmt.Errorf("event stream: status %d", resp.StatusCode)
	}
	fail := func(err error) error {
		_ = resp.Body.Close()
		cancel()
		return err
	}
	domain, err := c.GenesisDomain(ctx, domainApplicationBuilder)
	if err != nil {
		return fail(fmt.Errorf("builder domain: %w", err))
	}
	gen, err := c.Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		return fail(fmt.Errorf("genesis: %w", err))
	}
	dc, err := c.DepositContract(ctx, &api.DepositContractOpts{})
	if err != nil {
		return fail(fmt.Errorf("deposit contract: %w", err))
	}
	chain, err := execution.NewChain(execution.Config{GenesisTime: uint64(gen.Data.GenesisTime.Unix()), ChainID: dc.Data.ChainID})
	if err != nil {
		return fail(fmt.Errorf("execution chain: %w", err))
	}
	gb, err := c.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: "genesis"})
	if err != nil {
		return fail(fmt.Errorf("genesis block: %w", err))
	}
	gp, err := gb.Data.ExecutionPayload()
	if err != nil {
		return fail(fmt.Errorf("genesis block payload: %w", err))
	}
	if h, err := gp.BlockHash(); err != nil || h != chain.Genesis().BlockHash {
		return fail(fmt.Errorf("the node's execution genesis %#x is not the one the builder derives (%#x): different genesis time or chain id", h, chain.Genesis().BlockHash))
	}
	b.chainMu.Lock()
	b.chain = chain
	b.chainMu.Unlock()
	b.mu.Lock()
	b.eth2, b.domain, b.cancel = c, domain, cancel
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer resp.Body.Close()
		b.readEvents(resp.Body)
	}()
	return nil
}

// Close stops the event subscription and the HTTP server.
func (b *Builder) Close() {
	b.mu.Lock()
	cancel := b.cancel
	b.closed = true
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	b.srv.Close()
	b.wg.Wait()
}

// readEvents reads the server-sent events until the stream ends. The payload_attributes data is
// decoded as go-eth2-client decodes it (the node's shape) or, failing that, in the Beacon API's
// shape (execution.ParseAttributesEvent), so either encoding of the event is understood.
func (b *Builder) readEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "payload_attributes" && data.Len() > 0 {
				b.onAttributes(data.Bytes())
			}
			event = ""
			data.Reset()
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

func (b *Builder) onAttributes(data []byte) {
	rec, err := decodeAttributes(data)
	if err != nil {
		b.log.Warn("payload_attributes event not understood", "error", err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts.Attributes++
	b.attrs[attrKey{rec.attrs.Slot, rec.attrs.ParentBlockHash}] = rec
	for k := range b.attrs {
		if k.slot+keptSlots < rec.attrs.Slot {
			delete(b.attrs, k)
		}
	}
	close(b.attrsNew)
	b.attrsNew = make(chan struct{})
}

func decodeAttributes(data []byte) (attrRec, error) {
	var ev apiv1.PayloadAttributesEvent
	if err := json.Unmarshal(data, &ev); err == nil && ev.Data != nil {
		d := ev.Data
		a := execution.Attributes{Slot: d.ProposalSlot, ProposerIndex: d.ProposerIndex, ParentBlockRoot: d.ParentBlockRoot,
			ParentBlockHash: d.ParentBlockHash, ParentBlockNumber: d.ParentBlockNumber}
		switch {
		case d.V4 != nil:
			a.Timestamp, a.PrevRandao, a.SuggestedFeeRecipient, a.Withdrawals = d.V4.Timestamp, d.V4.PrevRandao, d.V4.SuggestedFeeRecipient, d.V4.Withdrawals
		case d.V3 != nil:
			a.Timestamp, a.PrevRandao, a.SuggestedFeeRecipient, a.Withdrawals = d.V3.Timestamp, d.V3.PrevRandao, d.V3.SuggestedFeeRecipient, d.V3.Withdrawals
		default:
			return attrRec{}, fmt.Errorf("payload_attributes of version %s without V3/V4 attributes", ev.Version)
		}
		return attrRec{attrs: a, version: ev.Version}, nil
	}
	a, v, err := execution.ParseAttributesEvent(data)
	if err != nil {
		return attrRec{}, err
	}
	version := spec.DataVersionElectra
	if v == "fulu" {
		version = spec.DataVersionFulu
	}
	return attrRec{attrs: a, version: version}, nil
}

// waitAttributes returns the attributes of (slot, parent), waiting up to AttributesWait for their
// event.
func (b *Builder) waitAttributes(ctx context.Context, slot phase0.Slot, parent phase0.Hash32) (attrRec, bool) {
	t := time.NewTimer(b.cfg.AttributesWait)
	defer t.Stop()
	for {
		b.mu.Lock()
		rec, ok := b.attrs[attrKey{slot, parent}]
		ch := b.attrsNew
		b.mu.Unlock()
		if ok {
			return rec, true
		}
		select {
		case <-ch:
		case <-t.C:
			return attrRec{}, false
		case <-ctx.Done():
			return attrRec{}, false
		}
	}
}

// builderError answers the builder API's error shape (builder-specs: {"code", "message"}).
func builderError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}

func (b *Builder) getStatus(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	b.counts.Status++
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// postValidators is registerValidator (builder-specs): every registration must be signed by its
// validator under the builder domain and stamped no later than 10 s ahead; one bad registration
// refuses the request, as mev-boost-relay does. A newer registration replaces an older one.
func (b *Builder) postValidators(w http.ResponseWriter, r *http.Request) {
	err := b.register(r)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.counts.RegistrationsRefused++
		builderError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (b *Builder) register(r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBuilderBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBuilderBody {
		return fmt.Errorf("body larger than %d bytes", maxBuilderBody)
	}
	var regs []*apiv1.SignedValidatorRegistration
	if err := json.Unmarshal(body, &regs); err != nil {
		return fmt.Errorf("malformed registrations: %w", err)
	}
	b.mu.Lock()
	domain, connected, now := b.domain, b.eth2 != nil, b.cfg.Now()
	b.mu.Unlock()
	if !connected {
		return errors.New("builder not connected to a beacon node: builder domain unknown")
	}
	for i, reg := range regs {
		if reg == nil || reg.Message == nil {
			return fmt.Errorf("registration %d incomplete", i)
		}
		if reg.Message.Timestamp.After(now.Add(maxRegistrationSkew)) {
			return fmt.Errorf("registration %d: timestamp %d is in the future", i, reg.Message.Timestamp.Unix())
		}
		root, err := reg.Message.HashTreeRoot()
		if err != nil {
			return fmt.Errorf("registration %d: %w", i, err)
		}
		if err := verify(reg.Message.Pubkey, root, domain, reg.Signature); err != nil {
			return fmt.Errorf("registration %d: %w (DOMAIN_APPLICATION_BUILDER)", i, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, reg := range regs {
		if old, ok := b.regs[reg.Message.Pubkey]; ok && reg.Message.Timestamp.Before(old.Message.Timestamp) {
			continue
		}
		b.regs[reg.Message.Pubkey] = reg
		b.counts.Registrations++
	}
	return nil
}

// verify checks sig is pubkey's signature of root under domain.
func verify(pubkey phase0.BLSPubKey, root phase0.Root, domain phase0.Domain, sig phase0.BLSSignature) error {
	pk, err := bls.PublicKeyFromBytes(pubkey[:])
	if err != nil {
		return fmt.Errorf("pubkey: %w", err)
	}
	s, err := bls.SignatureFromBytes(sig[:])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	sr, err := (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
	if err != nil {
		return err
	}
	if !bls.Verify(pk, sr[:], s) {
		return errors.New("invalid signature")
	}
	return nil
}

func parseHex(s string, n int, what string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") {
		return nil, fmt.Errorf("%s %q: want 0x-prefixed hex", what, s)
	}
	v, err := hex.DecodeString(s[2:])
	if err != nil || len(v) != n {
		return nil, fmt.Errorf("%s %q: want %d bytes of 0x-prefixed hex", what, s, n)
	}
	return v, nil
}

// getHeader is getHeader (builder-specs): a signed bid for a registered proposer on parent_hash at
// slot, 204 when the builder has none.
func (b *Builder) getHeader(w http.ResponseWriter, r *http.Request) {
	slot, err := strconv.ParseUint(r.PathValue("slot"), 10, 64)
	if err != nil {
		builderError(w, http.StatusBadRequest, "slot: "+err.Error())
		return
	}
	ph, err := parseHex(r.PathValue("parent_hash"), 32, "parent_hash")
	if err != nil {
		builderError(w, http.StatusBadRequest, err.Error())
		return
	}
	pk, err := parseHex(r.PathValue("pubkey"), 48, "pubkey")
	if err != nil {
		builderError(w, http.StatusBadRequest, err.Error())
		return
	}
	b.mu.Lock()
	delay := b.delay
	b.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	bid, err := b.bid(r.Context(), phase0.Slot(slot), phase0.Hash32(ph), phase0.BLSPubKey(pk))
	b.mu.Lock()
	b.counts.Headers++
	if bid != nil {
		b.counts.Bids++
	}
	b.mu.Unlock()
	if err != nil {
		b.log.Info("no bid", "slot", slot, "reason", err)
	}
	if bid == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	data, err := json.Marshal(bid.signed)
	if err != nil {
		builderError(w, http.StatusInternalServerError, "encode bid: "+err.Error())
		return
	}
	version := strings.ToLower(bid.version.String())
	w.Header().Set("Eth-Consensus-Version", version)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"version":%q,"data":%s}`, version, data)
}

type signedBid struct {
	version spec.DataVersion
	signed  *builderapielectra.SignedBuilderBid
}

// bid builds and signs a bid, or says why there is none (nil bid).
func (b *Builder) bid(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey) (*signedBid, error) {
	b.mu.Lock()
	mode, value, reg, connected := b.mode, new(uint256.Int).Set(b.value), b.regs[pubkey], b.eth2 != nil
	b.mu.Unlock()
	switch {
	case !connected:
		return nil, errors.New("not connected to a beacon node")
	case mode == BuilderNoBid:
		return nil, errors.New("told to have no bid")
	case reg == nil:
		return nil, fmt.Errorf("validator %s is not registered", pubkey)
	}
	rec, ok := b.waitAttributes(ctx, slot, parent)
	if !ok {
		return nil, fmt.Errorf("no payload attributes for slot %d on parent %s", slot, parent)
	}
	attrs := rec.attrs
	attrs.SuggestedFeeRecipient = reg.Message.FeeRecipient // builder-specs: pay the registered fee recipient
	payload, requests, err := b.build(ctx, attrs, value)
	if err != nil {
		return nil, err
	}
	header, err := payloadHeader(payload)
	if err != nil {
		return nil, err
	}
	if mode == BuilderWrongParent {
		header.ParentHash = phase0.Hash32(otherHash(parent))
	}
	msg := &builderapielectra.BuilderBid{Header: header, BlobKZGCommitments: []deneb.KZGCommitment{}, ExecutionRequests: requests,
		Value: value, Pubkey: b.pubkey}
	mr, err := msg.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("bid root: %w", err)
	}
	sr, err := (&phase0.SigningData{ObjectRoot: mr, Domain: b.domain}).HashTreeRoot()
	if err != nil {
		return nil, err
	}
	signer := b.sk
	if mode == BuilderBadSignature {
		if signer, err = bls.GenerateSecretKey(); err != nil {
			return nil, err
		}
	}
	sig := phase0.BLSSignature(signer.Sign(sr[:]).Bytes())
	hr, err := header.HashTreeRoot()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.bids[slot] = append(b.bids[slot], &bidRecord{slot: slot, version: rec.version, proposer: pubkey, header: hr, payload: payload})
	for s := range b.bids {
		if s+keptSlots < slot {
			delete(b.bids, s)
		}
	}
	b.mu.Unlock()
	return &signedBid{version: rec.version, signed: &builderapielectra.SignedBuilderBid{Message: msg, Signature: sig}}, nil
}

// otherHash derives a hash that is not parent (for a bid on the wrong parent).
func otherHash(parent phase0.Hash32) [32]byte {
	out := [32]byte(parent)
	for i := range out {
		out[i] ^= 0xff
	}
	return out
}

// build makes the payload of a bid: it brings the builder's execution chain to the attributes'
// parent (importing the blocks the node added since, read through the Beacon API), then builds on
// it with package execution.
func (b *Builder) build(ctx context.Context, attrs execution.Attributes, value *uint256.Int) (*deneb.ExecutionPayload, *electra.ExecutionRequests, error) {
	b.chainMu.Lock()
	defer b.chainMu.Unlock()
	if err := b.catchUp(ctx, attrs.ParentBlockRoot, attrs.ParentBlockHash); err != nil {
		return nil, nil, fmt.Errorf("follow the node's execution chain: %w", err)
	}
	return b.chain.Build(attrs, nil, 0, value)
}

// maxCatchUp bounds how many blocks the builder imports to reach the node's head.
const maxCatchUp = 4 * keptSlots

// catchUp imports into the builder's chain the payloads of the beacon blocks from its head to the
// block root (whose payload is hash), walking parents through the Beacon API.
func (b *Builder) catchUp(ctx context.Context, root phase0.Root, hash phase0.Hash32) error {
	head, _ := b.chain.Head()
	if head == hash {
		return nil
	}
	type step struct {
		attrs   execution.Attributes
		payload *deneb.ExecutionPayload
		reqs    *electra.ExecutionRequests
	}
	var path []step
	for head != hash {
		if len(path) == maxCatchUp {
			return fmt.Errorf("the node's head is more than %d blocks from the builder's", maxCatchUp)
		}
		resp, err := b.eth2.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: root.String()})
		if err != nil {
			return fmt.Errorf("block %s: %w", root, err)
		}
		blk := resp.Data
		var m *electra.BeaconBlock
		switch {
		case blk.Electra != nil && blk.Electra.Message != nil:
			m = blk.Electra.Message
		case blk.Fulu != nil && blk.Fulu.Message != nil:
			m = blk.Fulu.Message
		default:
			return fmt.Errorf("block %s of version %s not handled", root, blk.Version)
		}
		if m.Slot == 0 || m.Body == nil || m.Body.ExecutionPayload == nil {
			return fmt.Errorf("reached block %s at slot %d without meeting the builder's head %s", root, m.Slot, head)
		}
		p := m.Body.ExecutionPayload
		if p.BlockHash != hash {
			return fmt.Errorf("block %s carries payload %s, expected %s", root, p.BlockHash, hash)
		}
		path = append(path, step{
			attrs: execution.Attributes{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentBlockRoot: m.ParentRoot,
				ParentBlockHash: p.ParentHash, ParentBlockNumber: p.BlockNumber - 1, Timestamp: p.Timestamp,
				PrevRandao: p.PrevRandao, SuggestedFeeRecipient: p.FeeRecipient, Withdrawals: p.Withdrawals},
			payload: p, reqs: m.Body.ExecutionRequests,
		})
		root, hash = m.ParentRoot, p.ParentHash
	}
	for i := len(path) - 1; i >= 0; i-- {
		s := path[i]
		if err := b.chain.Check(s.attrs, s.payload, s.reqs); err != nil {
			return fmt.Errorf("slot %d: %w", s.attrs.Slot, err)
		}
		if err := b.chain.Import(s.payload); err != nil {
			return fmt.Errorf("slot %d: %w", s.attrs.Slot, err)
		}
	}
	return nil
}

// payloadHeader is the ExecutionPayloadHeader of p (pbs.HeaderOf), checked to have the
// payload's hash_tree_root, as a block's body root needs.
func payloadHeader(p *deneb.ExecutionPayload) (*deneb.ExecutionPayloadHeader, error) {
	h, err := pbs.HeaderOf(p)
	if err != nil {
		return nil, err
	}
	hr, err := h.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("header root: %w", err)
	}
	pr, err := p.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("payload root: %w", err)
	}
	if hr != pr {
		return nil, fmt.Errorf("header root %#x is not the payload root %#x", hr, pr)
	}
	return h, nil
}

// postBlindedBlock is submitBlindedBlock (builder-specs): the payload of a bid the builder signed,
// only to a block that carries that bid's header and is signed by the proposer who asked for it,
// and only once per slot.
func (b *Builder) postBlindedBlock(w http.ResponseWriter, r *http.Request) {
	resp, err := b.reveal(r)
	b.mu.Lock()
	if err != nil {
		b.counts.PayloadsRefused++
	} else {
		b.counts.Payloads++
	}
	b.mu.Unlock()
	if err != nil {
		b.log.Info("payload refused", "reason", err)
		builderError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Eth-Consensus-Version", resp.version)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"version":%q,"data":%s}`, resp.version, resp.data)
}

type revealed struct {
	version string
	data    []byte
}

func (b *Builder) reveal(r *http.Request) (*revealed, error) {
	version := strings.ToLower(r.Header.Get("Eth-Consensus-Version"))
	if version != "electra" && version != "fulu" {
		return nil, fmt.Errorf("Eth-Consensus-Version %q: the test builder serves electra and fulu", version)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBuilderBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBuilderBody {
		return nil, fmt.Errorf("body larger than %d bytes", maxBuilderBody)
	}
	sb := &apiv1electra.SignedBlindedBeaconBlock{}
	if err := json.Unmarshal(body, sb); err != nil {
		return nil, fmt.Errorf("malformed signed blinded block: %w", err)
	}
	m := sb.Message
	if m == nil || m.Body == nil || m.Body.ExecutionPayloadHeader == nil {
		return nil, errors.New("signed blinded block incomplete")
	}
	hr, err := m.Body.ExecutionPayloadHeader.HashTreeRoot()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	var bid *bidRecord
	for _, rec := range b.bids[m.Slot] {
		if rec.header == hr {
			bid = rec
		}
	}
	_, done := b.delivered[m.Slot]
	mode, eth2 := b.mode, b.eth2
	b.mu.Unlock()
	if bid == nil {
		return nil, fmt.Errorf("no bid of this builder for slot %d carries header %#x", m.Slot, hr)
	}
	if done {
		return nil, fmt.Errorf("the payload of slot %d was already delivered", m.Slot)
	}
	if want := strings.ToLower(bid.version.String()); version != want {
		return nil, fmt.Errorf("Eth-Consensus-Version %s, the bid for slot %d was %s", version, m.Slot, want)
	}
	// The proposer's signature (DOMAIN_BEACON_PROPOSER): a payload goes only to a signed block.
	epoch, err := b.epochOf(r.Context(), m.Slot)
	if err != nil {
		return nil, fmt.Errorf("proposer domain: %w", err)
	}
	domain, err := eth2.Domain(r.Context(), phase0.DomainType{0, 0, 0, 0}, epoch)
	if err != nil {
		return nil, fmt.Errorf("proposer domain: %w", err)
	}
	root, err := m.HashTreeRoot()
	if err != nil {
		return nil, err
	}
	if err := verify(bid.proposer, root, domain, sb.Signature); err != nil {
		return nil, fmt.Errorf("blinded block: %w: not signed by the proposer %s the bid was made for (DOMAIN_BEACON_PROPOSER)", err, bid.proposer)
	}
	b.mu.Lock()
	if _, done := b.delivered[m.Slot]; done {
		b.mu.Unlock()
		return nil, fmt.Errorf("the payload of slot %d was already delivered", m.Slot)
	}
	b.delivered[m.Slot] = bid.payload.BlockHash
	for s := range b.delivered {
		if s+keptSlots < m.Slot {
			delete(b.delivered, s)
		}
	}
	b.mu.Unlock()
	payload := bid.payload
	if mode == BuilderPayloadMismatch {
		cp := *payload
		cp.ExtraData = []byte("not the header's payload")
		payload = &cp
	}
	var data []byte
	if version == "fulu" {
		data, err = json.Marshal(&builderapifulu.ExecutionPayloadAndBlobsBundle{ExecutionPayload: payload,
			BlobsBundle: &builderapifulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}})
	} else {
		data, err = json.Marshal(&builderapideneb.ExecutionPayloadAndBlobsBundle{ExecutionPayload: payload,
			BlobsBundle: &builderapideneb.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}})
	}
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return &revealed{version: version, data: data}, nil
}

// epochOf is slot's epoch by the node's SLOTS_PER_EPOCH.
func (b *Builder) epochOf(ctx context.Context, slot phase0.Slot) (phase0.Epoch, error) {
	sp, ok := b.eth2.(eth2client.SpecProvider)
	if !ok {
		return 0, errors.New("client cannot read the spec")
	}
	resp, err := sp.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		return 0, err
	}
	spe, ok := resp.Data["SLOTS_PER_EPOCH"].(uint64)
	if !ok || spe == 0 {
		return 0, errors.New("spec has no SLOTS_PER_EPOCH")
	}
	return phase0.Epoch(uint64(slot) / spe), nil
}
