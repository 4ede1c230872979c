// Package builder is the devnet's simulated block builder: it follows a beacon node's
// payload_attributes events (Beacon API event stream), keeps its own copy of the execution chain
// (devnet/beacon/execution) in step with the beacon chain, builds a payload for every slot and
// submits it, signed under the builder domain, to one or more relays over the relay API
// (POST /relay/v1/builder/blocks, SSZ).
//
// It leaves a configurable share of slots without a bid, so that a devnet shows local blocks
// next to builder blocks. What it does not do: execute transactions (its payloads carry opaque
// ones, as the devnet's execution chain does), blobs, or optimistic bidding strategies.
package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// DefaultBaseValue is the default bid base, 0.05 ETH in wei; each bid is 100% to 149% of it.
const DefaultBaseValue = 50_000_000_000_000_000

// maxSync bounds how many beacon blocks the builder walks back to catch its execution chain up.
const maxSync = 1024

// queueLen bounds the attributes waiting to be built on; when it is full the oldest waiting
// attributes are dropped (a builder that is behind bids on the newest head, as real ones do).
const queueLen = 16

// Config configures a Builder.
type Config struct {
	// Name labels the builder in logs and reports (default "builder").
	Name string
	// SecretKey signs the bid traces; nil generates a key.
	SecretKey *bls.SecretKey
	// Beacon is the Beacon API URL followed for payload attributes and blocks (required).
	Beacon string
	// Relays are relay URLs, http://host:port, optionally with the relay's pubkey as user
	// (http://0xPUBKEY@host:port, as proposers write them) (at least one).
	Relays []string
	// NoBidShare is the share of slots, 0 to 1, for which the builder makes no bid; which slots
	// is a deterministic function of Seed and the slot.
	NoBidShare float64
	// Seed varies the skipped slots and the values between builders.
	Seed uint64
	// BaseValue is the bid base in wei (default DefaultBaseValue).
	BaseValue uint64
	// ChainID is the execution chain's id, an input of its genesis block hash (default
	// beacon.DevnetChainID, the devnet's).
	ChainID uint64
	// Timeout bounds each request to the beacon node or a relay (default 2 s).
	Timeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Bid is a submission a relay accepted.
type Bid struct {
	Slot       phase0.Slot
	Relay      string // the relay's base URL
	ParentHash phase0.Hash32
	BlockHash  phase0.Hash32
	Value      *uint256.Int
}

// Stats counts what the builder did.
type Stats struct {
	Slots   int // slots it saw payload attributes for
	Skipped int // slots it chose to leave without a bid
	Bids    int // submissions relays accepted
	Outbid  int // submissions a relay refused as not above its auction's floor (a better bid was in)
	Refused int // submissions relays refused for another reason, or that failed
}

// Builder is a simulated block builder. Create it with New and run it with Run, once.
// Its methods are safe for concurrent use.
//
// Run returns an error only when its first connection setup fails; refusals by a relay are
// logged and counted in Stats.
type Builder struct {
	cfg    Config
	log    *slog.Logger
	sk     *bls.SecretKey
	pk     phase0.BLSPubKey
	relays []string
	hc     *http.Client

	mu      sync.Mutex
	stats   Stats
	bids    map[phase0.Slot][]Bid
	seen    map[phase0.Slot]bool // slots counted in Stats.Slots
	done    map[attrKey]bool     // attributes already built on
	regs    []map[phase0.Slot]*builderapiv1.SignedValidatorRegistration
	regsAt  []phase0.Slot // the slot of each relay's last validators query (+1: 0 is never)
	chain   *execution.Chain
	domain  phase0.Domain
	spec    *mev.ChainSpec
	beacon  *mev.BeaconClient
	blocks  *eth2http.Service
	started bool
}

type attrKey struct {
	slot   phase0.Slot
	parent phase0.Hash32
}

// New checks cfg. It connects to nothing: Run does.
func New(cfg Config) (*Builder, error) {
	switch {
	case cfg.Beacon == "":
		return nil, errors.New("builder: no beacon node specified")
	case len(cfg.Relays) == 0:
		return nil, errors.New("builder: no relay specified")
	case cfg.NoBidShare < 0 || cfg.NoBidShare > 1:
		return nil, fmt.Errorf("builder: no-bid share %v is not between 0 and 1", cfg.NoBidShare)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("builder: timeout %v is negative", cfg.Timeout)
	}
	if cfg.Name == "" {
		cfg.Name = "builder"
	}
	if cfg.BaseValue == 0 {
		cfg.BaseValue = DefaultBaseValue
	}
	if cfg.ChainID == 0 {
		cfg.ChainID = beacon.DevnetChainID
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Builder{cfg: cfg, log: cfg.Logger.With("component", "builder", "builder", cfg.Name), sk: cfg.SecretKey,
		hc: &http.Client{Timeout: cfg.Timeout}, bids: map[phase0.Slot][]Bid{}, seen: map[phase0.Slot]bool{}, done: map[attrKey]bool{}}
	for _, r := range cfg.Relays {
		e, err := pbs.ParseRelayURL(r)
		if err != nil {
			// A relay URL without a pubkey is fine for a builder: it does not check the relay's bids.
			e.URL = r
			if _, perr := http.NewRequest(http.MethodGet, r, nil); perr != nil {
				return nil, fmt.Errorf("builder: relay URL %q: %w", r, perr)
			}
		}
		b.relays = append(b.relays, e.URL)
		b.regs = append(b.regs, map[phase0.Slot]*builderapiv1.SignedValidatorRegistration{})
		b.regsAt = append(b.regsAt, 0)
	}
	if b.sk == nil {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, fmt.Errorf("builder: key: %w", err)
		}
		b.sk = sk
	}
	b.pk = phase0.BLSPubKey(b.sk.PublicKey().Bytes())
	return b, nil
}

// Pubkey is the builder's BLS public key (the builder_pubkey of its bid traces).
func (b *Builder) Pubkey() phase0.BLSPubKey { return b.pk }

// Name is the builder's label.
func (b *Builder) Name() string { return b.cfg.Name }

// Stats returns the counts so far.
func (b *Builder) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Bids returns the accepted submissions for slot.
func (b *Builder) Bids(slot phase0.Slot) []Bid {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Bid(nil), b.bids[slot]...)
}

// WillBid reports whether the builder bids for slot (Config.NoBidShare, Config.Seed).
func (b *Builder) WillBid(slot phase0.Slot) bool { return willBid(b.cfg.Seed, b.cfg.NoBidShare, slot) }

// willBid draws a number in [0, 1) from (seed, slot) and bids when it is at least share.
func willBid(seed uint64, share float64, slot phase0.Slot) bool {
	if share <= 0 {
		return true
	}
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:8], seed)
	binary.LittleEndian.PutUint64(in[8:], uint64(slot))
	h := sha256.Sum256(in[:])
	u := float64(binary.LittleEndian.Uint64(h[:8])>>11) / float64(1<<53)
	return u >= share
}

// value is the bid for slot at relay i: 100% to 149% of the base, different per relay so that
// a proposer's sidecar has a real choice.
func (b *Builder) value(slot phase0.Slot, relay int) *uint256.Int {
	var in [24]byte
	binary.LittleEndian.PutUint64(in[:8], b.cfg.Seed)
	binary.LittleEndian.PutUint64(in[8:16], uint64(slot))
	binary.LittleEndian.PutUint64(in[16:], uint64(relay))
	h := sha256.Sum256(in[:])
	pct := 100 + binary.LittleEndian.Uint64(h[:8])%50
	v := uint256.NewInt(b.cfg.BaseValue)
	v.Mul(v, uint256.NewInt(pct))
	return v.Div(v, uint256.NewInt(100))
}

// Run follows the beacon node's payload attributes and bids until ctx ends. It returns nil on a
// clean stop.
func (b *Builder) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return errors.New("builder: Run called twice")
	}
	b.started = true
	b.mu.Unlock()
	bc, err := mev.NewBeaconClient(ctx, []string{b.cfg.Beacon}, b.log)
	if err != nil {
		return fmt.Errorf("builder: %w", err)
	}
	sp, err := bc.Spec(ctx)
	if err != nil {
		return fmt.Errorf("builder: chain spec: %w", err)
	}
	svc, err := eth2http.New(ctx, eth2http.WithAddress(b.cfg.Beacon), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(b.cfg.Timeout))
	if err != nil {
		return fmt.Errorf("builder: beacon node %s: %w", b.cfg.Beacon, err)
	}
	chain, err := execution.NewChain(execution.Config{GenesisTime: uint64(sp.GenesisTime.Unix()), ChainID: b.cfg.ChainID})
	if err != nil {
		return fmt.Errorf("builder: execution chain: %w", err)
	}
	b.mu.Lock()
	b.beacon, b.spec, b.blocks, b.chain = bc, sp, svc.(*eth2http.Service), chain
	b.domain = pbs.BuilderDomain(sp.GenesisForkVersion)
	b.mu.Unlock()

	queue := make(chan *mev.Attributes, queueLen)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case a := <-queue:
				b.handle(ctx, a)
			}
		}
	})
	err = bc.Follow(ctx, mev.Events{PayloadAttributes: func(a *mev.Attributes) {
		for {
			select {
			case queue <- a:
				return
			default:
			}
			select { // full: drop the oldest waiting attributes
			case old := <-queue:
				b.log.Warn("builder behind: dropped payload attributes", "slot", old.Slot)
			default:
			}
		}
	}})
	wg.Wait()
	return err
}

// handle builds and submits the bids for one slot's attributes.
func (b *Builder) handle(ctx context.Context, a *mev.Attributes) {
	key := attrKey{a.Slot, a.ParentBlockHash}
	b.mu.Lock()
	if b.done[key] {
		b.mu.Unlock()
		return
	}
	b.done[key] = true
	for k := range b.done {
		if k.slot+64 < a.Slot {
			delete(b.done, k)
		}
	}
	first := !b.seen[a.Slot]
	b.seen[a.Slot] = true
	if first {
		b.stats.Slots++
	}
	for s := range b.seen {
		if s+64 < a.Slot {
			delete(b.seen, s)
		}
	}
	b.mu.Unlock()
	if !b.WillBid(a.Slot) {
		if first {
			b.mu.Lock()
			b.stats.Skipped++
			b.mu.Unlock()
		}
		b.log.Debug("no bid for this slot", "slot", a.Slot)
		return
	}
	if err := b.sync(ctx, a); err != nil {
		b.log.Warn("execution chain not in step with the beacon chain", "slot", a.Slot, "error", err)
		return
	}
	for i, relay := range b.relays {
		err := b.bid(ctx, a, i)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, errOutbid):
			b.mu.Lock()
			b.stats.Outbid++
			b.mu.Unlock()
			b.log.Debug("outbid", "slot", a.Slot, "relay", relay, "error", err)
		default:
			b.mu.Lock()
			b.stats.Refused++
			b.mu.Unlock()
			b.log.Warn("bid not accepted", "slot", a.Slot, "relay", relay, "error", err)
		}
	}
}

// sync brings the builder's execution chain to a's parent: it walks the beacon chain back from
// a's parent block to the chain's head and imports the payloads in order, each checked as an
// execution client would (execution.Chain.Check).
func (b *Builder) sync(ctx context.Context, a *mev.Attributes) error {
	head, number := b.chain.Head()
	if head == a.ParentBlockHash {
		return nil
	}
	if a.ParentBlockNumber <= number {
		return fmt.Errorf("parent block %d %#x is not after the head %d %#x (the devnet has no reorgs)", a.ParentBlockNumber, a.ParentBlockHash, number, head)
	}
	if a.ParentBlockNumber-number > maxSync {
		return fmt.Errorf("%d blocks behind, at most %d are caught up", a.ParentBlockNumber-number, maxSync)
	}
	type item struct {
		attrs    execution.Attributes
		payload  *deneb.ExecutionPayload
		requests *electra.ExecutionRequests
	}
	var todo []item
	root := a.ParentBlockRoot
	for {
		resp, err := b.blocks.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: root.String()})
		if err != nil {
			return fmt.Errorf("beacon block %s: %w", root, err)
		}
		blk := resp.Data.Electra
		if resp.Data.Version == spec.DataVersionFulu {
			blk = resp.Data.Fulu
		}
		if blk == nil || blk.Message == nil || blk.Message.Body == nil || blk.Message.Body.ExecutionPayload == nil {
			return fmt.Errorf("beacon block %s of version %s has no Electra execution payload", root, resp.Data.Version)
		}
		m := blk.Message
		p := m.Body.ExecutionPayload
		todo = append(todo, item{attrs: execution.Attributes{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentBlockRoot: m.ParentRoot,
			ParentBlockHash: p.ParentHash, ParentBlockNumber: p.BlockNumber - 1, Timestamp: p.Timestamp, PrevRandao: p.PrevRandao,
			SuggestedFeeRecipient: p.FeeRecipient, Withdrawals: p.Withdrawals}, payload: p, requests: m.Body.ExecutionRequests})
		if p.ParentHash == head {
			break
		}
		if p.BlockNumber <= number+1 || len(todo) > maxSync {
			return fmt.Errorf("beacon block %s (execution block %d) does not lead to the head %#x", root, p.BlockNumber, head)
		}
		root = m.ParentRoot
	}
	for i := len(todo) - 1; i >= 0; i-- {
		it := todo[i]
		if err := b.chain.Check(it.attrs, it.payload, it.requests); err != nil {
			return err
		}
		if err := b.chain.Import(it.payload); err != nil {
			return err
		}
	}
	return nil
}

// Retries of a submission the relay refused for want of the slot's payload attributes.
const (
	attributeRetries    = 10
	attributeRetryDelay = 25 * time.Millisecond
)

var (
	// errNoAttributes: the relay has not seen the slot's payload attributes on this parent yet.
	errNoAttributes = errors.New("relay has no payload attributes for the slot yet")
	// errOutbid: the relay holds a better bid (its auction's floor) for the slot.
	errOutbid = errors.New("outbid")
)

// post submits an SSZ-encoded submission to relay i.
func (b *Builder) post(ctx context.Context, i int, version spec.DataVersion, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.relays[i]+"/relay/v1/builder/blocks", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", pbs.MediaSSZ)
	req.Header.Set("Eth-Consensus-Version", version.String())
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg = bytes.TrimSpace(msg)
	// The relay's 400 bodies name the check that failed (mev.Step): attributes and floor are
	// the two a well-behaved builder meets in normal operation.
	switch {
	case resp.StatusCode == http.StatusBadRequest && bytes.Contains(msg, []byte("no payload attributes known")):
		return fmt.Errorf("%w: %s", errNoAttributes, msg)
	case resp.StatusCode == http.StatusBadRequest && bytes.Contains(msg, []byte("bid floor")):
		return fmt.Errorf("%w: %s", errOutbid, msg)
	}
	return fmt.Errorf("relay answered %d: %s", resp.StatusCode, msg)
}

// registration returns the registration of slot's proposer at relay i (nil: not registered
// there), from the relay's GET /relay/v1/builder/validators, asked at most once a slot.
func (b *Builder) registration(ctx context.Context, slot phase0.Slot, i int) (*builderapiv1.SignedValidatorRegistration, error) {
	b.mu.Lock()
	reg, ok := b.regs[i][slot]
	asked := b.regsAt[i] == slot+1
	b.mu.Unlock()
	if ok || asked {
		return reg, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.relays[i]+"/relay/v1/builder/validators", nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("builder validators: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("builder validators: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("builder validators: %d %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var list []struct {
		Slot  string                                    `json:"slot"`
		Entry *builderapiv1.SignedValidatorRegistration `json:"entry"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("builder validators: %w", err)
	}
	m := map[phase0.Slot]*builderapiv1.SignedValidatorRegistration{}
	for _, e := range list {
		s, err := strconv.ParseUint(e.Slot, 10, 64)
		if err != nil || e.Entry == nil || e.Entry.Message == nil {
			return nil, fmt.Errorf("builder validators: bad entry for slot %q", e.Slot)
		}
		m[phase0.Slot(s)] = e.Entry
	}
	b.mu.Lock()
	b.regs[i] = m
	b.regsAt[i] = slot + 1
	b.mu.Unlock()
	return m[slot], nil
}

// bid builds the payload of a for relay i and submits it.
func (b *Builder) bid(ctx context.Context, a *mev.Attributes, i int) error {
	reg, err := b.registration(ctx, a.Slot, i)
	if err != nil {
		return err
	}
	if reg == nil {
		b.log.Debug("proposer not registered with the relay", "slot", a.Slot, "relay", b.relays[i])
		return nil
	}
	fee := reg.Message.FeeRecipient
	ea := execution.Attributes{Slot: a.Slot, ProposerIndex: a.ProposerIndex, ParentBlockRoot: a.ParentBeaconBlockRoot,
		ParentBlockHash: a.ParentBlockHash, ParentBlockNumber: a.ParentBlockNumber, Timestamp: a.Timestamp,
		PrevRandao: a.PrevRandao, SuggestedFeeRecipient: fee, Withdrawals: a.Withdrawals}
	// One opaque EIP-1559-typed transaction, so that the bid is not an empty block (mev-boost
	// ignores those), tagged by builder and relay so that each relay gets a block of its own.
	var tx [12]byte
	tx[0], tx[1] = 0x02, 0xc1
	binary.LittleEndian.PutUint64(tx[2:10], b.cfg.Seed)
	tx[10], tx[11] = byte(i), byte(a.Slot)
	value := b.value(a.Slot, i)
	p, reqs, err := b.chain.Build(ea, []bellatrix.Transaction{tx[:]}, 21_000, value)
	if err != nil {
		return err
	}
	version := a.Version
	if version == spec.DataVersionUnknown {
		version, _ = b.spec.Fork(a.Slot)
	}
	trace := &builderapiv1.BidTrace{Slot: uint64(a.Slot), ParentHash: p.ParentHash, BlockHash: p.BlockHash, BuilderPubkey: b.pk,
		ProposerPubkey: reg.Message.Pubkey, ProposerFeeRecipient: fee, GasLimit: p.GasLimit, GasUsed: p.GasUsed, Value: value}
	sig, err := pbs.Sign(b.sk, trace, b.domain)
	if err != nil {
		return err
	}
	s := &mev.Submission{Version: version, Trace: trace, Payload: p, Requests: reqs, Signature: sig,
		Bundle: &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}}
	body, err := s.Encode(pbs.MediaSSZ)
	if err != nil {
		return err
	}
	// The relay reads the payload_attributes event on a stream of its own and may have it a
	// moment after the builder: a refusal for unknown attributes is retried briefly.
	for attempt := 0; ; attempt++ {
		err = b.post(ctx, i, version, body)
		if err == nil || attempt == attributeRetries || !errors.Is(err, errNoAttributes) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(attributeRetryDelay):
		}
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.stats.Bids++
	b.bids[a.Slot] = append(b.bids[a.Slot], Bid{Slot: a.Slot, Relay: b.relays[i], ParentHash: p.ParentHash, BlockHash: p.BlockHash, Value: value})
	for s := range b.bids {
		if s+1024 < a.Slot {
			delete(b.bids, s)
		}
	}
	b.mu.Unlock()
	b.log.Debug("bid accepted", "slot", a.Slot, "relay", b.relays[i], "value", value.Dec(), "block_hash", p.BlockHash.String())
	return nil
}
